"""Abuse cases against a running starling-turn (see test_turn_abuse.sh for the config it runs
with). Each check prints "ok <name>" or raises. Arguments: server port, metrics port."""
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from turn_client import *  # noqa: E402,F401,F403

PORT, HTTP = int(sys.argv[1]), int(sys.argv[2])
SERVER = ("127.0.0.1", PORT)
UDP17 = (A_TRANSPORT, bytes([17, 0, 0, 0]))
failures = []


def check(name, cond, detail=""):
    if cond:
        print(f"ok   {name}")
    else:
        print(f"FAIL {name} {detail}")
        failures.append(name)


def alive(src="127.0.0.9"):
    """The server still answers a Binding request from a fresh source."""
    c = Client(SERVER, bind=(src, 0))
    m = c.transact(BINDING, [], sign=False)
    c.close()
    return m is not None and m.cls == SUCCESS


def metric(name):
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{HTTP}/metrics", timeout=2).read().decode()
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name))


# ---- malformed and truncated input ----------------------------------------------------------
# From its own address: the 401s it provokes must not drain the rate-limit bucket of the
# checks below.
c = Client(SERVER, "alice", "wonderland", bind=("127.0.0.7", 0))
tid = os.urandom(12)
good = build(ALLOCATE, REQUEST, [UDP17], tid=tid)
junk = [b"", b"\x00", b"\x00\x01\x00", good[:19], good[:-2], good[:20] + b"\xff" * 3,
        b"\x00\x03\x00\x08" + struct.pack("!I", MAGIC) + tid + b"\x00\x19\x00\x04",  # says 8, has 4
        b"\x00\x03\x00\x05" + struct.pack("!I", MAGIC) + tid + b"\x00" * 5,  # length not /4
        b"\x00\x03\x00\x08" + b"\xde\xad\xbe\xef" + tid + b"\x00\x19\x00\x04\x11\x00\x00\x00",  # bad cookie
        b"\x40\x00\xff\xff" + b"x" * 10,  # ChannelData longer than the datagram
        b"\x4f\xff\x00\x00", b"\x7f\xff\x00\x01z", b"\x80" * 64, b"\xff" * 1400,
        struct.pack("!HHI", msg_type(ALLOCATE, REQUEST), 0xFFFC, MAGIC) + tid]
for _ in range(300):
    junk.append(os.urandom(random.randint(0, 600)))
    g = bytearray(good)
    g[random.randrange(len(g))] ^= 1 << random.randrange(8)
    junk.append(bytes(g))
answered = 0
for j in junk:
    c.raw(j)
while c.recv(0.3) is not None:
    answered += 1
# Only intact or bit-flipped-but-valid STUN may be answered (with 400/401); nothing crashes.
check("malformed_input_survived", alive(), f"answered={answered}")
c.close()

# ---- authentication failures ------------------------------------------------------------------
c = Client(SERVER, "alice", "not-the-password")
try:
    c.allocate()
    check("wrong_password_401", False, "allocation succeeded")
except TurnError as e:
    check("wrong_password_401", e.code == 401 and e.msg.get(A_MI) is None, f"code={e.code}")
c.close()

c = Client(SERVER, "alice", "wonderland")
c.request(BINDING, [])  # no-op; learn nothing
m = c.transact(ALLOCATE, [UDP17], sign=False)
c.realm, c.nonce = "wrong-realm", m.get(A_NONCE).decode()
c.key = lt_key("alice", "wrong-realm", "wonderland")
m = c.transact(ALLOCATE, [UDP17])
check("wrong_realm_401", m is not None and m.code == 401 and m.get(A_REALM) == b"abuse", f"{m and m.code}")
# Right realm, integrity computed with another key.
c.realm, c.key = "abuse", lt_key("alice", "abuse", "other")
m = c.transact(ALLOCATE, [UDP17])
check("wrong_integrity_401", m is not None and m.code == 401, f"{m and m.code}")
c.close()

# A nonce the server never issued is treated like an expired one: 438 with a fresh nonce.
c = Client(SERVER, "alice", "wonderland")
c.realm, c.nonce, c.key = "abuse", "0" * 32, lt_key("alice", "abuse", "wonderland")
m = c.transact(ALLOCATE, [UDP17])
check("forged_nonce_438", m is not None and m.code == 438 and m.get(A_NONCE) not in (None, b"0" * 32),
      f"{m and m.code}")
c.close()

# Stale nonce: the configured lifetime is 2 s (nonces carry whole seconds, so one can last
# up to 3 s).
c = Client(SERVER, "alice", "wonderland")
c.allocate()
time.sleep(3.2)
m = c.transact(REFRESH, [(A_LIFETIME, struct.pack("!I", 600))], timeout=4.0)
check("stale_nonce_438", m is not None and m.code == 438, f"{m and (m.code or 'success')}")
c.nonce = m.get(A_NONCE).decode() if m is not None and m.get(A_NONCE) else c.nonce
m = c.transact(REFRESH, [(A_LIFETIME, struct.pack("!I", 600))])
check("stale_nonce_retry_succeeds", m is not None and m.cls == SUCCESS, f"{m and m.code}")
c.refresh(0)
c.close()

# Expired REST username (the secret is right).
user, pw = rest_credentials("abuse-secret", "eve", expiry=int(time.time()) - 10)
c = Client(SERVER, user, pw)
try:
    c.allocate()
    check("expired_rest_username_401", False, "allocation succeeded")
except TurnError as e:
    check("expired_rest_username_401", e.code == 401, f"code={e.code}")
c.close()
user, pw = rest_credentials("abuse-secret", "eve", ttl=600)
c = Client(SERVER, user, pw)
c.allocate()
check("valid_rest_username_allocates", True)
c.refresh(0)
c.close()

# ---- protocol errors --------------------------------------------------------------------------
c = Client(SERVER, "alice", "wonderland")
try:
    c.request(ALLOCATE, [UDP17, (0x0031, b"\0\0\0\0")])
    check("unknown_attribute_420", False, "accepted")
except TurnError as e:
    ua = e.msg.get(A_UNKNOWN) if e.msg else None
    check("unknown_attribute_420", e.code == 420 and ua == b"\x00\x31", f"code={e.code} {ua}")
try:
    c.request(ALLOCATE, [(A_TRANSPORT, bytes([6, 0, 0, 0]))])
    check("tcp_transport_442", False, "accepted")
except TurnError as e:
    check("tcp_transport_442", e.code == 442, f"code={e.code}")
c.allocate(extra=[(0x8000, bytes([2, 0, 0, 0]))])  # dual-stack, so IPv6 forms reach the filter
for peer in ["10.0.0.1", "192.168.1.1", "169.254.169.254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
             "2002:a9fe:a9fe::1", "0.0.0.0", "127.0.0.2", "::ffff:127.0.0.2", "100.64.1.1", "224.0.0.1",
             "::1", "fe80::1", "fd00::1", "::", "ff02::1", "::a00:1", "64:ff9b::7f00:2"]:
    try:
        c.permit(peer, 80)
        check(f"denied_peer_403 {peer}", False, "permitted")
    except TurnError as e:
        check(f"denied_peer_403 {peer}", e.code == 403, f"code={e.code}")
c.permit("127.0.0.1", 9)  # the allow-listed peer works
check("allowed_peer_permitted", True)
m = c.transact(ALLOCATE, [UDP17])
check("second_allocate_same_5tuple_437", m is not None and m.code == 437, f"{m and m.code}")
c.refresh(0)
c.close()
c = Client(SERVER, "alice", "wonderland")
try:
    c.refresh(600)
    check("refresh_without_allocation_437", False, "accepted")
except TurnError as e:
    check("refresh_without_allocation_437", e.code == 437, f"code={e.code}")
c.close()

# ---- quota -----------------------------------------------------------------------------------
held = []
for i in range(6):
    q = Client(SERVER, "quota", "q")
    try:
        q.allocate()
        held.append(q)
    except TurnError as e:
        check("per_user_quota_486", i == 5 and e.code == 486, f"at {i}: code={e.code}")
        q.close()
for q in held:
    q.refresh(0)
    q.close()

# ---- floods ----------------------------------------------------------------------------------
# 10 000 signed Allocate requests from 400 sockets of user "mallory" (per-user quota 5): the
# first 5 sockets get allocations, the rest 486 (or 437 for a second request on a 5-tuple that has one),
# while alice, from her own address, allocates, binds a channel and relays both ways.
probe = Client(SERVER, "mallory", "m", bind=("127.0.0.3", 0))
probe.request(BINDING, [])
m = probe.transact(ALLOCATE, [UDP17], sign=False)
realm, nonce = m.get(A_REALM).decode(), m.get(A_NONCE)
probe.close()
key = lt_key("mallory", realm, "m")
socks = []
for _ in range(400):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.3", 0))
    s.setblocking(False)
    socks.append(s)
msgs = [build(ALLOCATE, REQUEST, [UDP17, (A_USERNAME, b"mallory"), (A_REALM, realm.encode()), (A_NONCE, nonce)],
              key=key) for _ in range(25)]
peer = udp_peer()
alice = Client(SERVER, "alice", "wonderland", bind=("127.0.0.4", 0))
codes = {}
sent = 0
alice_ok = False
rounds = 0
for r in range(25):
    for s in socks:
        try:
            s.sendto(msgs[r], SERVER)
            sent += 1
        except BlockingIOError:
            pass
    if r == 10:
        # The legitimate client, mid-flood.
        alice.allocate()
        alice.bind(0x4001, *peer.getsockname())
        alice.send_channel(0x4001, b"through the flood")
        got = peer.recvfrom(2048)
        peer.sendto(b"and back", got[1])
        back = alice.recv_channel(3.0)
        alice_ok = got[0] == b"through the flood" and back == (0x4001, b"and back")
    ready = select.select(socks, [], [], 0.01)[0]
    for s in ready:
        while True:
            try:
                d = s.recv(2048)
            except BlockingIOError:
                break
            mm = parse(d)
            k = "ok" if mm and mm.cls == SUCCESS else (mm.code if mm else "junk")
            codes[k] = codes.get(k, 0) + 1
end = time.time() + 2
while time.time() < end:
    ready = select.select(socks, [], [], 0.2)[0]
    if not ready:
        break
    for s in ready:
        while True:
            try:
                d = s.recv(2048)
            except BlockingIOError:
                break
            mm = parse(d)
            k = "ok" if mm and mm.cls == SUCCESS else (mm.code if mm else "junk")
            codes[k] = codes.get(k, 0) + 1
print(f"     flood: sent {sent} Allocate requests, answers {codes}")
check("flood_of_10000_allocates_capped", sent == 10000 and codes.get("ok", 0) <= 5 and codes.get(486, 0) > 0,
      str(codes))
check("legitimate_client_served_during_flood", alice_ok)
alive_after = alive()
check("server_answers_after_flood", alive_after)
for s in socks:
    s.close()
alice.refresh(0)
alice.close()

# 10 000 unauthenticated Allocates from one address: the 401s are rate-limited (burst 20,
# 10/s per source IP) while a client from another address is answered at once.
flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flood.bind(("127.0.0.5", 0))
flood.setblocking(False)
unsigned = [build(ALLOCATE, REQUEST, [UDP17]) for _ in range(64)]
for i in range(10000):
    if i % 200 == 0:
        time.sleep(0.002)  # keep the kernel from dropping most of it before the server sees it
    try:
        flood.sendto(unsigned[i % 64], SERVER)
    except BlockingIOError:
        time.sleep(0.001)
time.sleep(0.5)
n401 = 0
while True:
    try:
        flood.recv(2048)
        n401 += 1
    except BlockingIOError:
        break
check("unauthenticated_flood_rate_limited", 0 < n401 <= 60, f"{n401} answers to 10000 requests")
other = Client(SERVER, "alice", "wonderland", bind=("127.0.0.6", 0))
other.allocate()
check("other_source_unaffected", True)
other.refresh(0)
other.close()
flood.close()
time.sleep(1.2)
check("ratelimited_metric_counts", metric("starling_turn_ratelimited_total") > 5000,
      str(metric("starling_turn_ratelimited_total")))
check("quota_rejections_metric", metric('starling_turn_rejections_total{worker="0",code="486"}') +
      metric('starling_turn_rejections_total{worker="1",code="486"}') > 0)

if failures:
    print("FAILED:", ", ".join(failures))
    sys.exit(1)
print("PASS")
