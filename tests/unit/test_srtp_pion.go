// Pion side of tests/unit/test_srtp_pion.c: github.com/pion/srtp/v2 (Debian's
// golang-github-pion-srtp.v2-dev), an SRTP implementation written apart from ours and from
// libsrtp. Built offline:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o X test_srtp_pion.go
//
//	X PROFILE KEYHEX SALTHEX encrypt|decrypt
//
// PROFILE is the IANA number (1, 2 or 7). One pion Context processes every stdin line in
// order ("rtp HEX" or "rtcp HEX") and prints "ok HEX" or "err MESSAGE" for each.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/pion/srtp/v2"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: helper PROFILE KEYHEX SALTHEX encrypt|decrypt")
		os.Exit(2)
	}
	p, _ := strconv.Atoi(os.Args[1])
	key, _ := hex.DecodeString(os.Args[2])
	salt, _ := hex.DecodeString(os.Args[3])
	ctx, err := srtp.CreateContext(key, salt, srtp.ProtectionProfile(p))
	if err != nil {
		fmt.Fprintln(os.Stderr, "CreateContext:", err)
		os.Exit(1)
	}
	encrypt := os.Args[4] == "encrypt"
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 2 {
			continue
		}
		b, err := hex.DecodeString(f[1])
		if err != nil {
			fmt.Fprintln(out, "err hex")
			continue
		}
		var r []byte
		switch {
		case f[0] == "rtp" && encrypt:
			r, err = ctx.EncryptRTP(nil, b, nil)
		case f[0] == "rtp":
			r, err = ctx.DecryptRTP(nil, b, nil)
		case encrypt:
			r, err = ctx.EncryptRTCP(nil, b, nil)
		default:
			r, err = ctx.DecryptRTCP(nil, b, nil)
		}
		if err != nil {
			fmt.Fprintln(out, "err", strings.ReplaceAll(err.Error(), " ", "_"))
		} else {
			fmt.Fprintln(out, "ok", hex.EncodeToString(r))
		}
	}
}
