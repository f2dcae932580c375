// Pion WebRTC v3 (Debian golang-github-pion-webrtc.v3-dev, built offline) against
// starling-peer, on 127.0.0.1 only.
//
// usage: pion_peer STARLING_PEER ROLE MODE
//   ROLE "offer": Pion offers, starling-peer answers; "answer": the reverse.
//   MODE "data":  1000 binary messages of mixed sizes (<= 64 KiB) over an ordered channel,
//                 echoed by starling-peer, checked in order and intact; meanwhile Pion sends
//                 VP8 RTP packets that starling-peer reflects and Pion checks them.
//        "media": starling-peer sends its libvpx VP8; Pion depacketizes whole frames with
//                 its samplebuilder and checks the VP8 keyframe header (320x240). Pion has no
//                 decoder, so that is as far as "decoding" goes here.
// Prints one JSON line; exit status 0 on success.
//
// Environment: PC_N_MESSAGES (data mode, default 1000), PC_STARLING_ARGS (extra starling-peer
// arguments), PC_PION_ICE_SERVER / _USER / _PASS (a TURN server for Pion) and
// PC_PION_RELAY_ONLY=1 (ICETransportPolicy relay). Both sides' view of the selected pair's
// candidate types is reported (pion_/starling_ local/remote_candidate).
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media/samplebuilder"
)

var nMessages = 1000

func message(i int) []byte {
	size := 4 + (i*7919)%65533
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	for k := 4; k < size; k++ {
		b[k] = byte(i + k)
	}
	return b
}

type starling struct {
	cmd     *exec.Cmd
	stdin   *bufio.Writer
	lines   chan map[string]interface{}
	summary map[string]interface{}
	done    chan struct{}
}

func startStarling(bin string, args ...string) *starling {
	s := &starling{lines: make(chan map[string]interface{}, 64), done: make(chan struct{})}
	args = append(strings.Fields(os.Getenv("PC_STARLING_ARGS")), args...)
	s.cmd = exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--timeout", "60"}, args...)...)
	s.cmd.Stderr = os.Stderr
	in, _ := s.cmd.StdinPipe()
	out, _ := s.cmd.StdoutPipe()
	s.stdin = bufio.NewWriter(in)
	if err := s.cmd.Start(); err != nil {
		panic(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var o map[string]interface{}
			if json.Unmarshal(sc.Bytes(), &o) != nil {
				continue
			}
			if o["event"] == "summary" {
				s.summary = o
			}
			select {
			case s.lines <- o:
			default:
			}
		}
		close(s.done)
	}()
	return s
}

func (s *starling) description() webrtc.SessionDescription {
	for o := range s.lines {
		if t, ok := o["type"].(string); ok {
			var d webrtc.SessionDescription
			d.Type = webrtc.NewSDPType(t)
			d.SDP = o["sdp"].(string)
			return d
		}
	}
	panic("starling-peer exited before printing a description")
}

func (s *starling) send(d *webrtc.SessionDescription) {
	b, _ := json.Marshal(map[string]string{"type": d.Type.String(), "sdp": d.SDP})
	s.stdin.Write(append(b, '\n'))
	s.stdin.Flush()
}

func (s *starling) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	s.cmd.Wait()
}

func main() {
	bin, role, mode := os.Args[1], os.Args[2], os.Args[3]
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(0) // disabled
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		panic(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me))
	if n, err := strconv.Atoi(os.Getenv("PC_N_MESSAGES")); err == nil && n > 0 {
		nMessages = n
	}
	cfg := webrtc.Configuration{}
	if url := os.Getenv("PC_PION_ICE_SERVER"); url != "" {
		cfg.ICEServers = []webrtc.ICEServer{{URLs: []string{url}, Username: os.Getenv("PC_PION_ICE_USER"),
			Credential: os.Getenv("PC_PION_ICE_PASS")}}
	}
	if os.Getenv("PC_PION_RELAY_ONLY") == "1" {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		panic(err)
	}

	res := map[string]interface{}{"peer": "pion", "mode": mode}
	var mu sync.Mutex
	echoed, echoErrors := 0, 0
	allEchoed := make(chan struct{})
	connected := make(chan struct{})
	var t0 time.Time
	var connectMs int64 = -1
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected && connectMs < 0 {
			connectMs = time.Since(t0).Milliseconds()
			close(connected)
		}
	})

	runChannel := func(dc *webrtc.DataChannel) {
		dc.SetBufferedAmountLowThreshold(1 << 20)
		sent := 0
		lowCh := make(chan struct{}, 1)
		dc.OnBufferedAmountLow(func() {
			select {
			case lowCh <- struct{}{}:
			default:
			}
		})
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			mu.Lock()
			defer mu.Unlock()
			if !bytes.Equal(m.Data, message(echoed)) {
				echoErrors++
			}
			echoed++
			if echoed == nMessages {
				close(allEchoed)
			}
		})
		dc.OnOpen(func() {
			go func() {
				for sent < nMessages {
					for sent < nMessages && dc.BufferedAmount() < 4<<20 {
						if err := dc.Send(message(sent)); err != nil {
							return
						}
						sent++
					}
					select {
					case <-lowCh:
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
		})
	}

	// Media: reflected RTP (data mode) or VP8 frames from starling (media mode).
	var reflected, frames, keyframes, width, height int
	var track *webrtc.TrackLocalStaticRTP
	sentPayloads := sync.Map{}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeVideo {
			go func() {
				for {
					if _, _, err := tr.ReadRTP(); err != nil {
						return
					}
				}
			}()
			return
		}
		sb := samplebuilder.New(64, &codecs.VP8Packet{}, 90000)
		go func() {
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				mu.Lock()
				if mode == "data" {
					if want, ok := sentPayloads.Load(p.SequenceNumber); ok && bytes.Equal(want.([]byte), p.Payload) {
						reflected++
					}
				} else {
					sb.Push(p)
					for s := sb.Pop(); s != nil; s = sb.Pop() {
						frames++
						d := s.Data
						// RFC 6386 9.1: keyframe = bit 0 of the tag is 0; start code 9d 01 2a.
						if len(d) >= 10 && d[0]&1 == 0 && d[3] == 0x9d && d[4] == 0x01 && d[5] == 0x2a {
							keyframes++
							width = int(binary.LittleEndian.Uint16(d[6:]) & 0x3fff)
							height = int(binary.LittleEndian.Uint16(d[8:]) & 0x3fff)
						}
					}
				}
				mu.Unlock()
			}
		}()
	})

	var sl *starling
	if role == "offer" {
		if mode == "data" {
			dc, _ := pc.CreateDataChannel("interop", nil)
			runChannel(dc)
			track, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "pion")
			pc.AddTrack(track)
			sl = startStarling(bin, "--answer", "--echo")
		} else {
			pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
			pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
			sl = startStarling(bin, "--answer", "--send-test-media")
		}
		t0 = time.Now()
		offer, _ := pc.CreateOffer(nil)
		gathered := webrtc.GatheringCompletePromise(pc)
		pc.SetLocalDescription(offer)
		<-gathered
		sl.send(pc.LocalDescription())
		ans := sl.description()
		if err := pc.SetRemoteDescription(ans); err != nil {
			res["error"] = err.Error()
		}
	} else {
		if mode == "data" {
			sl = startStarling(bin, "--offer", "--echo", "--datachannel", "interop", "--video")
			pc.OnDataChannel(runChannel)
		} else {
			sl = startStarling(bin, "--offer", "--send-test-media")
		}
		off := sl.description()
		t0 = time.Now()
		if err := pc.SetRemoteDescription(off); err != nil {
			res["error"] = err.Error()
		}
		if mode == "data" {
			track, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "pion")
			// AddTrack reuses the recvonly transceiver the offer created (sendrecv now).
			if _, err := pc.AddTrack(track); err != nil {
				res["error"] = err.Error()
			}
		}
		answer, _ := pc.CreateAnswer(nil)
		gathered := webrtc.GatheringCompletePromise(pc)
		pc.SetLocalDescription(answer)
		<-gathered
		sl.send(pc.LocalDescription())
	}

	ok := true
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		ok = false
		res["error"] = "not connected"
	}
	deadline := time.After(60 * time.Second)
	if ok && mode == "data" {
		// Send 200 VP8-payload RTP packets at 100/s while the messages flow.
		go func() {
			for i := 0; i < 200; i++ {
				payload := []byte{0x10, 0x9d, byte(i), byte(i >> 8), 1, 2, 3, 4, 5, 6, 7, 8}
				p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(1000 + i), Timestamp: uint32(i * 3000), Marker: true}, Payload: payload}
				sentPayloads.Store(p.SequenceNumber, payload)
				track.WriteRTP(p)
				time.Sleep(10 * time.Millisecond)
			}
		}()
		select {
		case <-allEchoed:
		case <-deadline:
			ok = false
			res["error"] = "timeout waiting for echoes"
		}
		time.Sleep(time.Second)
	} else if ok {
		for i := 0; i < 150; i++ {
			mu.Lock()
			n := frames
			mu.Unlock()
			if n >= 30 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil {
		res["pion_local_candidate"] = pair.Local.Typ.String()
		res["pion_remote_candidate"] = pair.Remote.Typ.String()
	}
	pc.Close()
	sl.stop()
	mu.Lock()
	defer mu.Unlock()
	res["role_of_starling"] = map[string]string{"offer": "answerer", "answer": "offerer"}[role]
	res["connect_ms"] = connectMs
	res["echoed"] = echoed
	res["echo_errors"] = echoErrors
	res["rtp_reflected"] = reflected
	res["vp8_frames"] = frames
	res["vp8_keyframes"] = keyframes
	res["vp8_size"] = fmt.Sprintf("%dx%d", width, height)
	if sl.summary != nil {
		res["starling_connected_ms"] = sl.summary["connected_ms"]
		res["starling_dc_received"] = sl.summary["dc_messages_received"]
		stats, _ := sl.summary["stats"].(map[string]interface{})
		for _, v := range stats {
			t, _ := v.(map[string]interface{})
			id, _ := t["selectedCandidatePairId"].(string)
			if t["type"] != "transport" || id == "" {
				continue
			}
			pair, _ := stats[id].(map[string]interface{})
			if pair == nil {
				continue
			}
			lid, _ := pair["localCandidateId"].(string)
			rid, _ := pair["remoteCandidateId"].(string)
			if l, _ := stats[lid].(map[string]interface{}); l != nil {
				res["starling_local_candidate"] = l["candidateType"]
			}
			if r, _ := stats[rid].(map[string]interface{}); r != nil {
				res["starling_remote_candidate"] = r["candidateType"]
			}
		}
	}
	if mode == "data" {
		ok = ok && echoed == nMessages && echoErrors == 0 && reflected >= 150 && sl.summary != nil &&
			sl.summary["dc_messages_received"] == float64(nMessages)
	} else {
		ok = ok && frames >= 30 && keyframes >= 1 && width == 320 && height == 240
	}
	res["ok"] = ok
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if !ok {
		os.Exit(1)
	}
}
