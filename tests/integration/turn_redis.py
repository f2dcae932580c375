"""starling-turn with a real redis-server (started and stopped here, by PID): REST secrets
read from the sorted set, Redis down at start, Redis lost mid-run (relaying goes on, cached
secrets keep working), Redis back (REST auth resumes), secret rotation without dropping a
session, the HTTP credential endpoint with its API key, the node registry, SIGHUP reload
and SIGTERM drain.

Arguments: turn-port http-port redis-port turn-pid config-file work-dir starling-turn-binary
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from turn_client import *  # noqa: E402,F401,F403

PORT, HTTP, RPORT, TURN_PID = (int(a) for a in sys.argv[1:5])
CONF, WORK, BIN = sys.argv[5], sys.argv[6], sys.argv[7]
SERVER = ("127.0.0.1", PORT)
KEY = "starling:turn:secrets"
failures = []
redis_proc = None


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f" {detail}"), flush=True)
    if not cond:
        failures.append(name)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def redis_start():
    global redis_proc
    redis_proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(RPORT), "--save", "",
                                   "--appendonly", "no", "--dir", WORK], stdout=subprocess.DEVNULL)
    with open(os.path.join(WORK, "redis.pid"), "w") as f:
        f.write(str(redis_proc.pid))
    for _ in range(100):
        if redis("PING") == "PONG":
            return
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def redis_stop():
    global redis_proc
    redis_proc.kill()
    redis_proc.wait()
    redis_proc = None
    os.unlink(os.path.join(WORK, "redis.pid"))


def redis(*args):
    r = subprocess.run(["redis-cli", "-p", str(RPORT), *args], capture_output=True, text=True)
    return r.stdout.strip()


def rest_allocate(secret, identity, expect_ok=True):
    user, pw = rest_credentials(secret, identity)
    c = Client(SERVER, user, pw)
    try:
        c.allocate()
        return c
    except TurnError:
        c.close()
        return None


def wait_for(fn, seconds=5.0):
    end = time.time() + seconds
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return None


def http(method, path, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{HTTP}{path}", method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def relay_round_trip(c, channel, peer):
    c.bind(channel, *peer.getsockname())
    c.send_channel(channel, b"ping")
    data, src = peer.recvfrom(2048)
    peer.sendto(b"pong", src)
    return data == b"ping" and c.recv_channel(3.0) == (channel, b"pong")


peer = udp_peer()
try:
    # ---- Redis down at start -------------------------------------------------------------
    c = rest_allocate("s1", "early")
    check("rest_refused_while_redis_never_seen", c is None)
    status, body = http("GET", "/healthz")
    check("healthz_503_before_any_secret", status == 503, f"{status} {body}")
    a = Client(SERVER, "alice", "wonderland")
    a.allocate()
    check("static_user_works_without_redis", relay_round_trip(a, 0x4000, peer))

    # ---- Redis comes up with a secret: REST auth starts working ---------------------------
    redis_start()
    redis("ZADD", KEY, "+inf", "s1")
    c1 = wait_for(lambda: rest_allocate("s1", "carol"), 8.0)
    check("rest_works_once_redis_has_the_secret", c1 is not None)
    check("rest_session_relays", c1 is not None and relay_round_trip(c1, 0x4001, peer))
    status, body = http("GET", "/healthz")
    check("healthz_200_with_redis", status == 200 and '"redis"' in body, f"{status} {body}")

    # ---- node registry ----------------------------------------------------------------------
    reg = wait_for(lambda: redis("HGETALL", "starling:turn:node:itest") or None, 4.0) or ""
    fields = reg.split("\n")
    check("node_registry_hash", "addr" in fields and "allocations" in fields and "up" in fields, reg)
    ttl = int(redis("TTL", "starling:turn:node:itest") or -2)
    check("node_registry_has_ttl", 0 < ttl <= 10, str(ttl))

    # ---- HTTP credential endpoint -----------------------------------------------------------
    status, _ = http("POST", "/?service=turn&username=bob")
    check("credentials_need_api_key", status == 401, str(status))
    status, _ = http("POST", "/?service=turn&username=bob&key=wrong")
    check("credentials_wrong_api_key_401", status == 401, str(status))
    status, body = http("POST", "/?service=turn&username=bob", {"X-API-Key": "itest-key"})
    cred = json.loads(body) if status == 200 else {}
    check("credentials_endpoint_json", status == 200 and cred.get("ttl") == 3600 and
          cred.get("username", "").endswith(":bob") and any(u.startswith(f"turn:127.0.0.1:{PORT}") for u in
                                                            cred.get("uris", [])), body)
    status, body2 = http("POST", "/?service=turn&username=bob&key=itest-key")
    check("credentials_key_as_parameter", status == 200, str(status))
    status, _ = http("POST", "/?service=stun&username=bob", {"Authorization": "Bearer itest-key"})
    check("credentials_service_must_be_turn", status == 400, str(status))
    if cred:
        cb = Client(SERVER, cred["username"], cred["password"])
        cb.allocate()
        check("endpoint_credentials_allocate_and_relay", relay_round_trip(cb, 0x4002, peer))
        cb.refresh(0)
        cb.close()

    # ---- Redis lost mid-run -------------------------------------------------------------------
    # A real client (coTURN's) relays through REST credentials for ~5 s; Redis dies after 1 s.
    uc = subprocess.Popen(["turnutils_uclient", "-p", str(PORT), "-u", "dave", "-W", "s1", "-e", "127.0.0.1", "-y",
                           "-m", "2", "-n", "250", "-z", "20", "-l", "120", "127.0.0.1"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)
    redis_stop()
    out = uc.communicate(timeout=60)[0]
    check("relaying_survives_redis_loss", "Total lost packets 0 (0.000000%)" in out and
          "tot_recv_msgs=1000" in out, out[-400:])
    check("existing_allocation_still_relays", c1 is not None and relay_round_trip(c1, 0x4001, peer))
    c2 = rest_allocate("s1", "erin")
    check("rest_auth_uses_cached_secret_while_redis_down", c2 is not None)
    status, body = http("GET", "/healthz")
    check("healthz_stays_200_when_redis_is_lost", status == 200, f"{status} {body}")

    # ---- Redis back (empty, as after a restart), new secret ---------------------------------
    redis_start()
    redis("ZADD", KEY, str(int(time.time()) + 3600), "s2")
    c3 = wait_for(lambda: rest_allocate("s2", "frank"), 8.0)
    check("rest_auth_resumes_when_redis_returns", c3 is not None)
    # Redis is the source of truth again: s1 is no longer listed, so new logins with it fail...
    check("secret_missing_from_redis_refused", wait_for(lambda: rest_allocate("s1", "gina") is None, 4.0))
    # ...while sessions made with it keep refreshing (their key is cached).
    try:
        c1.refresh(600)
        ok = True
    except TurnError:
        ok = False
    check("session_outlives_its_secret", ok)

    # ---- rotation: s3 added, s2 retired; no restart, no dropped session ----------------------
    redis("ZADD", KEY, str(int(time.time()) + 7200), "s3")
    c4 = wait_for(lambda: rest_allocate("s3", "hank"), 4.0)
    check("rotation_new_secret_accepted", c4 is not None)
    check("rotation_old_secret_still_accepted_until_removed", rest_allocate("s2", "ivy") is not None)
    redis("ZREM", KEY, "s2")
    check("rotation_removed_secret_refused", wait_for(lambda: rest_allocate("s2", "jack") is None, 4.0))
    check("rotation_session_of_removed_secret_relays", relay_round_trip(c3, 0x4003, peer))
    # An expired score counts as removed.
    redis("ZADD", KEY, str(int(time.time()) - 5), "s4")
    time.sleep(1.0)
    check("expired_secret_score_refused", rest_allocate("s4", "kim") is None)
    status, body = http("POST", "/?service=turn&username=zed", {"X-API-Key": "itest-key"})
    newest = json.loads(body) if status == 200 else {}
    cz = Client(SERVER, newest.get("username", "x"), newest.get("password", "x"))
    try:
        cz.allocate()
        minted_ok = True
    except TurnError:
        minted_ok = False
    check("endpoint_mints_with_a_live_secret", minted_ok)

    # ---- SIGHUP reload: a new static user --------------------------------------------------------
    with open(CONF) as f:
        conf = f.read()
    with open(CONF, "w") as f:
        f.write(conf.replace("users = alice:wonderland", "users = alice:wonderland, lena:reloaded"))
    os.kill(TURN_PID, signal.SIGHUP)

    def lena_ok():
        c = Client(SERVER, "lena", "reloaded")
        try:
            c.allocate()
            return c
        except TurnError:
            c.close()
            return None
    cl = wait_for(lena_ok, 4.0)
    check("sighup_reload_adds_user", cl is not None)

    # ---- SIGTERM drain ---------------------------------------------------------------------------
    for x in [cz, c2, c4, cl]:
        if x:
            x.refresh(0)
    os.kill(TURN_PID, signal.SIGTERM)
    time.sleep(0.5)
    status, body = http("GET", "/healthz")
    check("draining_healthz_503", status == 503 and "draining" in body, f"{status} {body}")
    late = Client(SERVER, "alice", "wonderland")
    try:
        late.allocate()
        check("draining_refuses_new_allocations", False, "allocated")
    except TurnError as e:
        check("draining_refuses_new_allocations", e.code == 508, str(e.code))
    check("draining_keeps_relaying", relay_round_trip(a, 0x4000, peer))
    # coTURN's client left its allocations behind (it never deletes them), so this server
    # stops at the drain timeout (6 s), not earlier.
    t0 = time.time()
    gone = wait_for(lambda: not os.path.exists(f"/proc/{TURN_PID}") or
                    open(f"/proc/{TURN_PID}/stat").read().split()[2] == "Z", 10.0)
    check("drain_timeout_stops_server", gone and time.time() - t0 > 3, f"{time.time() - t0:.1f}s")

    # A second server whose only allocation is deleted during the drain exits at once.
    conf2 = os.path.join(WORK, "turn2.conf")
    port2, http2 = free_port(), free_port()
    with open(conf2, "w") as f:
        f.write(f"listen = 127.0.0.1:{port2}\ntcp.listen =\nworkers = 1\nrealm = itest\n"
                f"users = alice:wonderland\nrelay.ipv4 = 127.0.0.1\nrest.redis = false\n"
                f"http.listen = 127.0.0.1:{http2}\nshutdown.drain_timeout = 30s\n")
    srv2 = subprocess.Popen([BIN, "--config", conf2], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: Client(("127.0.0.1", port2)).transact(BINDING, [], sign=False) is not None, 5.0)
        x = Client(("127.0.0.1", port2), "alice", "wonderland")
        x.allocate()
        srv2.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        check("drain_waits_for_allocations", srv2.poll() is None)
        x.refresh(0)
        t0 = time.time()
        try:
            rc2 = srv2.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc2 = None
        check("drained_server_exits_when_allocations_end", rc2 == 0 and time.time() - t0 < 3, f"rc={rc2}")
    finally:
        if srv2.poll() is None:
            srv2.kill()
            srv2.wait()
finally:
    if redis_proc:
        redis_stop()

if failures:
    print("FAILED:", ", ".join(failures))
    sys.exit(1)
print("PASS")
