#!/bin/sh
# Interop: our DTLS endpoint (tools/dtls_peer) against OpenSSL's own s_server and s_client,
# over real UDP on 127.0.0.1.
#   - our client -> `openssl s_server -dtls1_2 -use_srtp P` and our server <- `openssl
#     s_client -dtls1_2 -use_srtp P`, for both SRTP profiles;
#   - the negotiated profile must be P on both sides, and the RFC 5764 keying material we
#     export (and our split client/server keys re-joined) must equal what OpenSSL prints for
#     -keymatexport EXTRACTOR-dtls_srtp;
#   - we verify OpenSSL's certificate against the SHA-256 fingerprint `openssl x509` computes,
#     application data flows both ways, and our close_notify reaches OpenSSL;
#   - a wrong fingerprint fails our side with "fingerprint mismatch" in both roles, and
#     OpenSSL sees the bad_certificate alert.
# Exits 77 only when the openssl command is missing.
set -u

command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl not installed"; exit 77; }
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build}
PEER="$BUILD_DIR/tools/dtls_peer/rtc_dtls_peer"
[ -x "$PEER" ] || { echo "FAIL: $PEER not built"; exit 1; }

WORK=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    exec 3>&- 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# wait_for FILE REGEX SECONDS: true once a line of FILE matches.
wait_for() {
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

upper() { tr 'a-f' 'A-F'; }

# Certificates for the OpenSSL side, made by OpenSSL.
for who in osrv ocli; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$who" -keyout "$WORK/$who.key" -out "$WORK/$who.crt" >/dev/null 2>&1 ||
        { echo "FAIL: openssl req"; exit 1; }
done
fp_of() { echo "sha-256 $(openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2)"; }
FP_OSRV=$(fp_of "$WORK/osrv.crt")
FP_OCLI=$(fp_of "$WORK/ocli.crt")
FP_WRONG="sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"

profile_name() { [ "$1" = gcm ] && echo SRTP_AEAD_AES_128_GCM || echo SRTP_AES128_CM_SHA1_80; }
profile_id() { [ "$1" = gcm ] && echo 0x0007 || echo 0x0001; }
keymat_len() { [ "$1" = gcm ] && echo 56 || echo 60; }

# OpenSSL prints "    Keying material: HEX".
openssl_keymat() { sed -n 's/^ *Keying material: *\([0-9A-Fa-f]*\).*/\1/p' "$1" | head -1 | upper; }
ours() { sed -n "s/^$2 //p" "$1" | head -1 | upper; }

# ---- our client against openssl s_server ----------------------------------------------------
client_vs_s_server() { # profile fingerprint-for-server expect-success
    prof=$1 fp=$2 expect_ok=$3
    tag="client-$prof-$expect_ok"
    out="$WORK/$tag.sout" fifo="$WORK/$tag.in"
    mkfifo "$fifo"
    openssl s_server -dtls1_2 -accept 127.0.0.1:0 -cert "$WORK/osrv.crt" -key "$WORK/osrv.key" \
        -use_srtp "$(profile_name "$prof")" -keymatexport EXTRACTOR-dtls_srtp \
        -keymatexportlen "$(keymat_len "$prof")" -verify 1 <"$fifo" >"$out" 2>&1 &
    spid=$!
    PIDS="$PIDS $spid"
    exec 3>"$fifo"
    wait_for "$out" '^ACCEPT ' 10 || { fail "$tag: s_server did not start"; cat "$out"; return; }
    port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$out" | head -1)
    "$PEER" --role client --connect "127.0.0.1:$port" --fingerprint "$fp" --profiles gcm,cm80 \
        --keymat-len "$(keymat_len "$prof")" --send hello-from-starling --expect hello-from-openssl \
        --close --timeout-ms 10000 >"$WORK/$tag.ours" 2>&1 &
    cpid=$!
    PIDS="$PIDS $cpid"
    if [ "$expect_ok" = yes ]; then
        if wait_for "$WORK/$tag.ours" '^CONNECTED' 10 && wait_for "$out" 'Keying material' 5; then
            echo hello-from-openssl >&3
        fi
    fi
    wait $cpid
    rc=$?
    wait_for "$out" 'DONE' 2 >/dev/null
    kill $spid 2>/dev/null
    wait $spid 2>/dev/null
    exec 3>&-
    if [ "$expect_ok" = yes ]; then
        [ $rc -eq 0 ] || { fail "$tag: our client exited $rc"; cat "$WORK/$tag.ours" "$out"; return; }
        grep -q "^CONNECTED .*profile=$(profile_id "$prof")" "$WORK/$tag.ours" ||
            fail "$tag: our side did not negotiate $(profile_name "$prof")"
        grep -q "SRTP Extension negotiated, profile=$(profile_name "$prof")" "$out" ||
            fail "$tag: s_server did not negotiate $(profile_name "$prof")"
        theirs=$(openssl_keymat "$out")
        [ -n "$theirs" ] && [ "$theirs" = "$(ours "$WORK/$tag.ours" KEYMAT)" ] ||
            fail "$tag: exported keying material differs from s_server's ($theirs)"
        [ "$theirs" = "$(ours "$WORK/$tag.ours" SRTPKEYS)" ] ||
            fail "$tag: our SRTP key split does not re-join to s_server's keying material"
        grep -q '^RECEIVED hello-from-openssl' "$WORK/$tag.ours" || fail "$tag: no data from s_server"
        grep -q 'hello-from-starling' "$out" || fail "$tag: s_server did not print our data"
        grep -q '^DONE' "$out" || grep -q 'DONE' "$out" || fail "$tag: s_server did not see close_notify"
        pass "$tag: handshake, $(profile_name "$prof"), keying material $theirs"
    else
        [ $rc -ne 0 ] || fail "$tag: our client accepted a certificate with the wrong fingerprint"
        grep -q '^FAILED fingerprint mismatch' "$WORK/$tag.ours" ||
            { fail "$tag: expected 'FAILED fingerprint mismatch'"; cat "$WORK/$tag.ours"; }
        grep -q '^ALERT sent fatal bad_certificate' "$WORK/$tag.ours" || fail "$tag: no bad_certificate alert sent"
        grep -qi 'bad certificate' "$out" || fail "$tag: s_server did not report the bad_certificate alert"
        pass "$tag: wrong server fingerprint refused by our client"
    fi
    rm -f "$fifo"
}

# ---- openssl s_client against our server ----------------------------------------------------
s_client_vs_server() { # profile fingerprint-for-client expect-success
    prof=$1 fp=$2 expect_ok=$3
    tag="server-$prof-$expect_ok"
    out="$WORK/$tag.cout" fifo="$WORK/$tag.in"
    mkfifo "$fifo"
    "$PEER" --role server --bind 127.0.0.1:0 --fingerprint "$fp" --profiles gcm,cm80 \
        --keymat-len "$(keymat_len "$prof")" --send hello-from-starling --expect hello-from-openssl \
        --close --timeout-ms 10000 >"$WORK/$tag.ours" 2>&1 &
    spid=$!
    PIDS="$PIDS $spid"
    wait_for "$WORK/$tag.ours" '^BOUND ' 10 || { fail "$tag: our server did not start"; return; }
    port=$(sed -n 's/^BOUND .*:\([0-9][0-9]*\)$/\1/p' "$WORK/$tag.ours" | head -1)
    openssl s_client -dtls1_2 -connect "127.0.0.1:$port" -cert "$WORK/ocli.crt" -key "$WORK/ocli.key" \
        -use_srtp "$(profile_name "$prof")" -keymatexport EXTRACTOR-dtls_srtp \
        -keymatexportlen "$(keymat_len "$prof")" -ign_eof <"$fifo" >"$out" 2>&1 &
    cpid=$!
    PIDS="$PIDS $cpid"
    exec 3>"$fifo"
    if [ "$expect_ok" = yes ]; then
        if wait_for "$out" 'Keying material' 10; then
            echo hello-from-openssl >&3
        fi
    fi
    wait $spid
    rc=$?
    wait_for "$out" 'hello-from-starling' 2 >/dev/null
    sleep 0.2
    kill $cpid 2>/dev/null
    wait $cpid 2>/dev/null
    exec 3>&-
    if [ "$expect_ok" = yes ]; then
        [ $rc -eq 0 ] || { fail "$tag: our server exited $rc"; cat "$WORK/$tag.ours" "$out"; return; }
        grep -q "^CONNECTED .*profile=$(profile_id "$prof")" "$WORK/$tag.ours" ||
            fail "$tag: our side did not negotiate $(profile_name "$prof")"
        grep -q "SRTP Extension negotiated, profile=$(profile_name "$prof")" "$out" ||
            fail "$tag: s_client did not negotiate $(profile_name "$prof")"
        theirs=$(openssl_keymat "$out")
        [ -n "$theirs" ] && [ "$theirs" = "$(ours "$WORK/$tag.ours" KEYMAT)" ] ||
            fail "$tag: exported keying material differs from s_client's ($theirs)"
        [ "$theirs" = "$(ours "$WORK/$tag.ours" SRTPKEYS)" ] ||
            fail "$tag: our SRTP key split does not re-join to s_client's keying material"
        grep -q '^RECEIVED hello-from-openssl' "$WORK/$tag.ours" || fail "$tag: no data from s_client"
        grep -q 'hello-from-starling' "$out" || fail "$tag: s_client did not print our data"
        pass "$tag: handshake, $(profile_name "$prof"), keying material $theirs"
    else
        [ $rc -ne 0 ] || fail "$tag: our server accepted a client certificate with the wrong fingerprint"
        grep -q '^FAILED fingerprint mismatch' "$WORK/$tag.ours" ||
            { fail "$tag: expected 'FAILED fingerprint mismatch'"; cat "$WORK/$tag.ours"; }
        grep -qi 'bad certificate' "$out" || { fail "$tag: s_client did not report bad_certificate"; cat "$out"; }
        pass "$tag: wrong client fingerprint refused by our server"
    fi
    rm -f "$fifo"
}

for prof in gcm cm80; do
    client_vs_s_server "$prof" "$FP_OSRV" yes
    s_client_vs_server "$prof" "$FP_OCLI" yes
done
client_vs_s_server gcm "$FP_WRONG" no
s_client_vs_server gcm "$FP_WRONG" no

if [ $FAILS -ne 0 ]; then
    echo "openssl DTLS interop: $FAILS failure(s)"
    exit 1
fi
echo "openssl DTLS interop: all passed"
exit 0
