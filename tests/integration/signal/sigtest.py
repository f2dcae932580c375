"""Helpers for starling-signal's integration tests: start real processes (redis-server,
starling-signal, the scripted SFU test double) on loopback, stop them by PID on every exit
path, and drive WebSocket clients (python3-websockets) through the protocol.

Everything listens on 127.0.0.1 with ports the kernel picked free for us."""
import asyncio
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import websockets

SRC_DIR = os.environ.get("SRC_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
BUILD_DIR = os.environ.get("BUILD_DIR") or os.path.join(SRC_DIR, "build/release")
SIGNAL_BIN = os.path.join(BUILD_DIR, "services/signal/starling-signal")
FAKE_SFU = os.path.join(SRC_DIR, "tests/integration/signal/fake_sfu.py")
PY = "/usr/bin/python3"
API_SECRET = "integration-test-secret-0123456789"

_procs = []
_tmpdirs = []


def _cleanup():
    for p in reversed(_procs):
        if p.poll() is None:
            try:
                p.kill()
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, lambda *_: sys.exit(1))


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def need_binaries():
    if not os.path.exists(SIGNAL_BIN):
        skip(SIGNAL_BIN + " not built")
    if not shutil.which("redis-server"):
        skip("redis-server not installed")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tmpdir():
    d = tempfile.mkdtemp(prefix="sigtest-")
    _tmpdirs.append(d)
    return d


def wait_for(cond, timeout=10.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return True
        except Exception:
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def spawn(args, log):
    f = open(log, "ab")
    p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _procs.append(p)
    return p


def stop(p, sig=signal.SIGKILL, timeout=10):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


class Redis:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tmpdir()
        self.proc = None
        self.start()

    def start(self):
        self.proc = spawn(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", "--dir", self.dir,
                           "--daemonize", "no"], os.path.join(self.dir, "redis.log"))
        import redis as pyredis
        self.client = pyredis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)
        wait_for(lambda: self.client.ping(), 10, "redis-server to start")

    def kill(self):
        stop(self.proc, signal.SIGKILL)


class Signal:
    def __init__(self, redis_port, *extra, signal_id=None, env=None):
        self.port = free_port()
        self.dir = tmpdir()
        self.log = os.path.join(self.dir, "signal.log")
        args = [SIGNAL_BIN, f"--listen=127.0.0.1:{self.port}", f"--redis.port={redis_port}",
                f"--api_secret={API_SECRET}", "--heartbeat=500ms", "--log.level=debug"]
        if signal_id:
            args.append(f"--signal_id={signal_id}")
        args += list(extra)
        self.proc = spawn(args, self.log)
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        wait_for(lambda: self.http("GET", "/healthz")[0] in (200, 503), 10, "starling-signal")

    def http(self, method, path, token=None, body=None, headers=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url + path, method=method, data=body, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)

    def json(self, method, path, token=None):
        st, body, _ = self.http(method, path, token)
        return st, json.loads(body) if body else None

    def healthy(self):
        return self.http("GET", "/healthz")[0] == 200

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def term(self, timeout=20):
        rc = stop(self.proc, signal.SIGTERM, timeout)
        if rc != 0:  # show why (a sanitizer report, a crash) before the caller fails
            tail = [l for l in self.logtext().splitlines() if not l.startswith('{"ts"')]
            print(f"starling-signal exited {rc}; non-log output:\n" + "\n".join(tail[-60:]))
        return rc


class FakeSfu:
    """The scripted SFU node (a test double, see fake_sfu.py)."""

    def __init__(self, redis_port, node_id, load=0, ttl=10, heartbeat=0.5, capacity=0, state="up"):
        self.id = node_id
        self.dir = tmpdir()
        self.record = os.path.join(self.dir, "record.jsonl")
        self.proc = spawn([PY, FAKE_SFU, "--redis-port", str(redis_port), "--node-id", node_id,
                           "--load", str(load), "--ttl", str(ttl), "--heartbeat", str(heartbeat),
                           "--capacity", str(capacity), "--state", state,
                           "--record", self.record], os.path.join(self.dir, "sfu.log"))

    def seen(self, mtype=None, participant=None):
        out = []
        if os.path.exists(self.record):
            with open(self.record) as f:
                for l in f:
                    m = json.loads(l)
                    if (mtype is None or m.get("type") == mtype) and \
                            (participant is None or m.get("participant") == participant):
                        out.append(m)
        return out

    def kill(self):
        stop(self.proc, signal.SIGKILL)


def mint(*args):
    """A token from the real CLI: starling-signal token --room R --identity I ..."""
    out = subprocess.run([SIGNAL_BIN, "token", f"--api_secret={API_SECRET}", *args],
                         capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise AssertionError("token CLI failed: " + out.stderr)
    return out.stdout.strip()


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed {code} {reason}")
        self.code, self.reason = code, reason


class Client:
    """One WebSocket client. recv() skips server pings (answering them) unless asked for."""

    def __init__(self, ws):
        self.ws = ws
        self.backlog = []

    @classmethod
    async def connect(cls, url, **kw):
        ws = await websockets.connect(url, max_size=None, ping_interval=None, open_timeout=5,
                                      **kw)
        return cls(ws)

    async def send(self, obj):
        await self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))

    async def recv(self, timeout=5.0, keep_pings=False):
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), timeout)
            except websockets.ConnectionClosed as e:
                raise Closed(e.rcvd.code if e.rcvd else None, e.rcvd.reason if e.rcvd else "")
            m = json.loads(raw)
            if m.get("type") == "ping" and not keep_pings:
                try:
                    await self.send({"type": "pong", "ts": m.get("ts")})
                except websockets.ConnectionClosed:
                    pass  # the close itself is reported by the next recv
                continue
            return m

    async def expect(self, mtype, timeout=5.0, **fields):
        """Next message of `mtype` (earlier ones of other types are kept for later)."""
        for i, m in enumerate(self.backlog):
            if m.get("type") == mtype and all(m.get(k) == v for k, v in fields.items()):
                return self.backlog.pop(i)
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                raise AssertionError(f"no '{mtype}' {fields or ''} within {timeout}s; "
                                     f"got {self.backlog[-5:]}")
            try:
                m = await self.recv(left)
            except asyncio.TimeoutError:
                continue
            if m.get("type") == mtype and all(m.get(k) == v for k, v in fields.items()):
                return m
            self.backlog.append(m)

    async def expect_any(self, mtypes, timeout=5.0):
        """Next message whose type is one of `mtypes` (others are kept for later)."""
        for i, m in enumerate(self.backlog):
            if m.get("type") in mtypes:
                return self.backlog.pop(i)
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                raise AssertionError(f"none of {mtypes} within {timeout}s; got {self.backlog[-5:]}")
            try:
                m = await self.recv(left)
            except asyncio.TimeoutError:
                continue
            if m.get("type") in mtypes:
                return m
            self.backlog.append(m)

    async def closed(self, timeout=5.0):
        """Waits for the server to close; returns (code, reason). Messages are kept."""
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                raise AssertionError("socket not closed within %.1fs" % timeout)
            try:
                m = await self.recv(left)
                self.backlog.append(m)
            except Closed as c:
                return c.code, c.reason
            except asyncio.TimeoutError:
                pass

    async def join(self, room, token, resume=None, rid=None):
        msg = {"type": "join", "room": room, "token": token}
        if resume:
            msg["resume"] = resume
        if rid:
            msg["rid"] = rid
        await self.send(msg)
        return await self.expect("joined", 10)

    async def close(self):
        await self.ws.close()


async def two_in_room(url_a, url_b, room, token_a, token_b):
    """Two clients joined in one room (through url_a and url_b), the first told of the
    second. -> (a, joined_a, b, joined_b)."""
    a = await Client.connect(url_a)
    ja = await a.join(room, token_a)
    b = await Client.connect(url_b)
    jb = await b.join(room, token_b)
    await a.expect("participant_joined")
    return a, ja, b, jb


class Checks:
    """Named checks: each prints PASS/FAIL; the script exits non-zero if any failed."""

    def __init__(self):
        self.passed = self.failed = 0

    async def run(self, name, coro):
        t = time.time()
        try:
            await coro
            self.passed += 1
            print(f"PASS {name} ({time.time() - t:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 — report every failure, keep going
            self.failed += 1
            import traceback
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc()

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


# A minimal valid SDP offer (Chromium-like shape), for relaying through signal.
OFFER_SDP = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"
    "a=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n")
