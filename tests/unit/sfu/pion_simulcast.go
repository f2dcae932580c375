// A simulcast publisher made with Pion WebRTC v3 (Debian golang-github-pion-webrtc.v3-dev,
// built offline), for test_sfu_pion.c: one VP8 track sent as three encodings with rids q, h
// and f (Pion's AddEncoding), the packets being the libvpx fixtures of tests/unit/sfu/
// (80x46, 160x90, 320x180), each carrying the mid and rtp-stream-id header extensions as a
// browser's do. Loopback only.
//
// usage: pion_simulcast SRC_DIR SECONDS
// Protocol on stdin/stdout, one JSON object per line:
//   out {"offer": SDP}            in {"answer": SDP}
//   out {"connected": true}       (then media for SECONDS, in real time)
//   out {"done": true, "sent": N, "pli": {"q": n, "h": n, "f": n}}
//   then it waits for stdin to close and exits.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
)

type packet struct {
	arrival uint32
	layer   int
	data    []byte
}

func load(src, name string, layer int) []packet {
	b, err := os.ReadFile(src + "/tests/unit/sfu/" + name + ".rtp")
	if err != nil {
		panic(err)
	}
	var out []packet
	for i := 0; i+6 <= len(b); {
		n := int(binary.BigEndian.Uint16(b[i+4:]))
		out = append(out, packet{binary.BigEndian.Uint32(b[i:]), layer, b[i+6 : i+6+n]})
		i += 6 + n
	}
	return out
}

func emit(o map[string]interface{}) {
	j, _ := json.Marshal(o)
	fmt.Println(string(j))
}

func main() {
	src := os.Args[1]
	seconds, _ := strconv.Atoi(os.Args[2])
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(0)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		panic(err)
	}
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			panic(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		panic(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		panic(err)
	}
	rids := []string{"q", "h", "f"}
	var tracks [3]*webrtc.TrackLocalStaticRTP
	for i, rid := range rids {
		tracks[i], err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8},
			"video", "pion-cam", webrtc.WithRTPStreamID(rid))
		if err != nil {
			panic(err)
		}
	}
	sender, err := pc.AddTrack(tracks[0])
	if err != nil {
		panic(err)
	}
	for i := 1; i < 3; i++ {
		if err := sender.AddEncoding(tracks[i]); err != nil {
			panic(err)
		}
	}
	var mu sync.Mutex
	plis := map[string]int{}
	for _, rid := range rids {
		go func(rid string) {
			for {
				pkts, _, err := sender.ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.PictureLossIndication); ok {
						mu.Lock()
						plis[rid]++
						mu.Unlock()
					}
				}
			}
		}(rid)
	}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		panic(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		panic(err)
	}
	<-gathered
	emit(map[string]interface{}{"offer": pc.LocalDescription().SDP})

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	if !in.Scan() {
		os.Exit(1)
	}
	var ans map[string]string
	if err := json.Unmarshal(in.Bytes(), &ans); err != nil {
		panic(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans["answer"]}); err != nil {
		panic(err)
	}
	select {
	case <-connected:
	case <-time.After(15 * time.Second):
		emit(map[string]interface{}{"error": "not connected"})
		os.Exit(1)
	}
	emit(map[string]interface{}{"connected": true})

	// The negotiated ids of the two extensions and the mid.
	var midID, ridID uint8
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	mid := pc.GetTransceivers()[0].Mid()
	var all []packet
	counts := [3]int{}
	for i, name := range []string{"vp8_q", "vp8_h", "vp8_f"} {
		l := load(src, name, i)
		counts[i] = len(l)
		all = append(all, l...)
	}
	// Arrival order, lower layer first on ties.
	for i := 1; i < len(all); i++ {
		for k := i; k > 0 && all[k].arrival < all[k-1].arrival; k-- {
			all[k], all[k-1] = all[k-1], all[k]
		}
	}
	start := time.Now()
	sent := 0
	for rep := 0; rep < seconds; rep++ {
		for _, p := range all {
			due := start.Add(time.Duration(int(p.arrival)+1000*rep) * time.Millisecond)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			var pk rtp.Packet
			if err := pk.Unmarshal(p.data); err != nil {
				panic(err)
			}
			pk.SequenceNumber += uint16(rep * counts[p.layer])
			pk.Timestamp += uint32(rep * 90000)
			if midID != 0 {
				_ = pk.Header.SetExtension(midID, []byte(mid))
			}
			if ridID != 0 {
				_ = pk.Header.SetExtension(ridID, []byte(rids[p.layer]))
			}
			if err := tracks[p.layer].WriteRTP(&pk); err != nil {
				panic(err)
			}
			sent++
		}
	}
	mu.Lock()
	emit(map[string]interface{}{"done": true, "sent": sent, "mid_ext": midID, "rid_ext": ridID, "pli": plis})
	mu.Unlock()
	for in.Scan() {
	}
	_ = pc.Close()
}
