// Pion side of tests/unit/test_rtp_peers.c: github.com/pion/rtcp (Debian's
// golang-github-pion-rtcp-dev) and the transport-cc Recorder of github.com/pion/interceptor,
// an implementation written apart from ours. Built offline:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o X test_rtp_peers_pion.go
//
//	describe FILE  each line "rtcp HEX": parse with pion, print one canonical line
//	make           marshal one packet of each RTCP type with pion, print "rtcp HEX" lines
//	twcc           record arrivals with pion's Recorder, print "arrival SEQ US" lines and
//	               the feedback it builds as "rtcp HEX" lines
//
// The description format matches describe_rtcp_pion() in test_rtp_peers.c.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

func blocks(rs []rtcp.ReceptionReport) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf(" rb=%d,%d,%06x,%d,%d,%d,%d", r.SSRC, r.FractionLost, r.TotalLost&0xffffff,
			r.LastSequenceNumber, r.Jitter, r.LastSenderReport, r.Delay)
	}
	return s
}

// twccDesc lists the status of every packet (0 lost, 1 small, 2 large) and the receive
// deltas in microseconds, walking pion's chunks up to the status count.
func twccDesc(p *rtcp.TransportLayerCC) string {
	var st []string
	left := int(p.PacketStatusCount)
	for _, c := range p.PacketChunks {
		switch ch := c.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(ch.RunLength) && left > 0; i++ {
				st = append(st, fmt.Sprint(ch.PacketStatusSymbol))
				left--
			}
		case *rtcp.StatusVectorChunk:
			for _, sym := range ch.SymbolList {
				if left == 0 {
					break
				}
				st = append(st, fmt.Sprint(sym))
				left--
			}
		}
	}
	var d []string
	for _, r := range p.RecvDeltas {
		d = append(d, fmt.Sprint(r.Delta))
	}
	return fmt.Sprintf("TWCC ssrc=%d media=%d base=%d count=%d ref=%d fb=%d st=%s d=%s", p.SenderSSRC,
		p.MediaSSRC, p.BaseSequenceNumber, p.PacketStatusCount, p.ReferenceTime, p.FbPktCount,
		strings.Join(st, ","), strings.Join(d, ","))
}

func describe(pkts []rtcp.Packet) string {
	var out []string
	for _, pk := range pkts {
		switch p := pk.(type) {
		case *rtcp.SenderReport:
			out = append(out, fmt.Sprintf("SR ssrc=%d ntp=%d rtp=%d pc=%d oc=%d%s", p.SSRC, p.NTPTime,
				p.RTPTime, p.PacketCount, p.OctetCount, blocks(p.Reports)))
		case *rtcp.ReceiverReport:
			out = append(out, fmt.Sprintf("RR ssrc=%d%s", p.SSRC, blocks(p.Reports)))
		case *rtcp.SourceDescription:
			s := "SDES"
			for _, c := range p.Chunks {
				s += fmt.Sprintf(" c=%d", c.Source)
				for _, it := range c.Items {
					s += fmt.Sprintf(" %d:%s", it.Type, hex.EncodeToString([]byte(it.Text)))
				}
			}
			out = append(out, s)
		case *rtcp.Goodbye:
			s := "BYE"
			for _, x := range p.Sources {
				s += fmt.Sprintf(" %d", x)
			}
			out = append(out, s+" reason="+hex.EncodeToString([]byte(p.Reason)))
		case *rtcp.TransportLayerNack:
			var l []string
			for _, n := range p.Nacks {
				for _, q := range n.PacketList() {
					l = append(l, fmt.Sprint(q))
				}
			}
			out = append(out, fmt.Sprintf("NACK ssrc=%d media=%d lost=%s", p.SenderSSRC, p.MediaSSRC, strings.Join(l, ",")))
		case *rtcp.PictureLossIndication:
			out = append(out, fmt.Sprintf("PLI ssrc=%d media=%d", p.SenderSSRC, p.MediaSSRC))
		case *rtcp.FullIntraRequest:
			s := fmt.Sprintf("FIR ssrc=%d", p.SenderSSRC)
			for _, e := range p.FIR {
				s += fmt.Sprintf(" %d:%d", e.SSRC, e.SequenceNumber)
			}
			out = append(out, s)
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			var l []string
			for _, x := range p.SSRCs {
				l = append(l, fmt.Sprint(x))
			}
			out = append(out, fmt.Sprintf("REMB ssrc=%d bitrate=%.0f ssrcs=%s", p.SenderSSRC, p.Bitrate, strings.Join(l, ",")))
		case *rtcp.TransportLayerCC:
			out = append(out, twccDesc(p))
		case *rtcp.RawPacket:
			continue // APP and anything pion/rtcp 1.2 does not know
		default:
			out = append(out, fmt.Sprintf("OTHER %T", p))
		}
	}
	return "rtcp " + strings.Join(out, " | ")
}

func mustMarshal(pkts ...rtcp.Packet) string {
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		panic(err)
	}
	return "rtcp " + hex.EncodeToString(b)
}

func main() {
	switch os.Args[1] {
	case "describe":
		f, err := os.Open(os.Args[2])
		if err != nil {
			panic(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			parts := strings.Fields(sc.Text())
			b, _ := hex.DecodeString(parts[1])
			pkts, err := rtcp.Unmarshal(b)
			if err != nil {
				fmt.Printf("ERROR %v\n", err)
				continue
			}
			fmt.Println(describe(pkts))
		}
	case "make":
		rb := rtcp.ReceptionReport{SSRC: 0x22222222, FractionLost: 12, TotalLost: 3, LastSequenceNumber: 70001,
			Jitter: 250, LastSenderReport: 0xabcdef01, Delay: 65536}
		fmt.Println(mustMarshal(
			&rtcp.SenderReport{SSRC: 0x11111111, NTPTime: 0xe123456789abcdef, RTPTime: 3000, PacketCount: 10,
				OctetCount: 12000, Reports: []rtcp.ReceptionReport{rb}},
			&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 0x11111111,
				Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "pion@test"}, {Type: rtcp.SDESTool, Text: "pion"}}}}},
			&rtcp.Goodbye{Sources: []uint32{0x11111111}, Reason: "done"}))
		fmt.Println(mustMarshal(
			&rtcp.ReceiverReport{SSRC: 5, Reports: []rtcp.ReceptionReport{rb, rb}},
			&rtcp.TransportLayerNack{SenderSSRC: 5, MediaSSRC: 0x22222222, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{100, 101, 105, 200, 201})},
			&rtcp.PictureLossIndication{SenderSSRC: 5, MediaSSRC: 0x22222222},
			&rtcp.FullIntraRequest{SenderSSRC: 5, FIR: []rtcp.FIREntry{{SSRC: 0x22222222, SequenceNumber: 9}}},
			&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 5, Bitrate: 1234560, SSRCs: []uint32{0x22222222, 7}}))
	case "twcc":
		r := twcc.NewRecorder(0x5555)
		t := int64(1000000)
		for i := 0; i < 300; i++ {
			seq := uint16(65400 + i) // crosses the 16-bit wrap
			switch {
			case i%17 == 5:
				continue // lost
			case i == 150:
				t += 120000 // a 120 ms stall: large delta
			default:
				t += int64(1000 + 250*(i%5))
			}
			fmt.Printf("arrival %d %d\n", seq, t)
			r.Record(0x6666, seq, t)
			if i%50 == 49 {
				for _, p := range r.BuildFeedbackPacket() {
					fmt.Println(mustMarshal(p))
				}
			}
		}
		for _, p := range r.BuildFeedbackPacket() {
			fmt.Println(mustMarshal(p))
		}
	}
}
