// Captures Pion v3 SDP for tests/unit/test_sdp_fixtures.h. No SetLocalDescription: nothing is
// gathered and nothing is sent. Usage: pion-gen [offer-to-answer.sdp]
package main

import (
	"fmt"
	"os"

	"github.com/pion/webrtc/v3"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	must(err)
	a, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pion")
	must(err)
	v, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pion")
	must(err)
	_, err = pc.AddTrack(a)
	must(err)
	_, err = pc.AddTrack(v)
	must(err)
	_, err = pc.CreateDataChannel("chat", nil)
	must(err)
	offer, err := pc.CreateOffer(nil)
	must(err)
	fmt.Printf("==== pion_offer\n%s", offer.SDP)
	must(pc.Close())
	if len(os.Args) > 1 {
		remote, err := os.ReadFile(os.Args[1])
		must(err)
		pc2, err := webrtc.NewPeerConnection(webrtc.Configuration{})
		must(err)
		must(pc2.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(remote)}))
		ans, err := pc2.CreateAnswer(nil)
		must(err)
		fmt.Printf("==== pion_answer\n%s", ans.SDP)
		must(pc2.Close())
	}
}
