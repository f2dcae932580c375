"""Helpers for the cluster and fault tests (tests/integration/test_cluster_*.sh): start a
real Starling cluster — one redis-server, several starling-signal processes, several
starling-sfu nodes — on addresses the test chooses (127.0.0.1, or a network namespace the
test created), kill and restart its parts, and stop everything it started, by PID, on every
exit path (normal exit, exception, SIGTERM/SIGINT/SIGHUP from ctest or `timeout`).

Nothing here knows about WebRTC clients: the drivers (aiortc_cluster.py, chromium_cluster.py)
start those through Procs too, so they are stopped the same way."""
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

SRC_DIR = os.environ.get("SRC_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD_DIR = os.environ.get("BUILD_DIR") or os.path.join(SRC_DIR, "build/release")
SIGNAL_BIN = os.path.join(BUILD_DIR, "services/signal/starling-signal")
SFU_BIN = os.path.join(BUILD_DIR, "services/sfu/starling-sfu")
PY = "/usr/bin/python3"
API_SECRET = "cluster-test-secret-0123456789abcdef"
PREFIX = "starling:"


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def skip(why):
    print("SKIP: " + why, flush=True)
    sys.exit(77)


class Procs:
    """Every process a test starts. Stopped by PID (SIGKILL) at exit, children first."""

    def __init__(self):
        self.procs = []
        self.dirs = []
        atexit.register(self.cleanup)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, lambda *_: sys.exit(1))

    def tmpdir(self, prefix="cluster-"):
        d = tempfile.mkdtemp(prefix=prefix)
        self.dirs.append(d)
        return d

    def spawn(self, args, logfile, env=None, stdin=subprocess.DEVNULL, stdout=None):
        f = open(logfile, "ab")
        p = subprocess.Popen(args, stdout=stdout if stdout is not None else f,
                             stderr=f if stdout is not None else subprocess.STDOUT, stdin=stdin,
                             env=dict(os.environ, **(env or {})))
        p.logfile = logfile
        self.procs.append(p)
        return p

    def add(self, p):
        """A process started elsewhere (asyncio subprocess) that must also be stopped."""
        self.procs.append(p)
        return p

    @staticmethod
    def alive(p):
        rc = p.returncode if hasattr(p, "returncode") else None
        if isinstance(p, subprocess.Popen):
            return p.poll() is None
        if rc is not None:
            return False
        try:
            os.kill(p.pid, 0)
            return True
        except ProcessLookupError:
            return False

    @staticmethod
    def kill(p, sig=signal.SIGKILL, timeout=10):
        """Signal one process by its PID and reap it (SIGKILL after `timeout`)."""
        if isinstance(p, subprocess.Popen):
            if p.poll() is None:
                p.send_signal(sig)
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            return p.returncode
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        return None

    def cleanup(self):
        for p in reversed(self.procs):
            try:
                if isinstance(p, subprocess.Popen):
                    if p.poll() is None:
                        p.kill()
                        p.wait(timeout=5)
                else:
                    os.kill(p.pid, signal.SIGKILL)
            except (ProcessLookupError, subprocess.TimeoutExpired, OSError):
                pass
        self.procs = []
        if os.environ.get("KEEP_LOGS"):
            print("logs kept in", " ".join(self.dirs))
        else:
            for d in self.dirs:
                shutil.rmtree(d, ignore_errors=True)


def free_port(host="127.0.0.1", kind=socket.SOCK_STREAM):
    """A port free for both TCP and UDP on `host` right now."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, kind)
        s.bind((host, 0))
        port = s.getsockname()[1]
        other = socket.socket(socket.AF_INET,
                              socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM)
        try:
            other.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
            other.close()
    raise RuntimeError("no free port")


def wait_for(cond, timeout=10.0, what="condition", step=0.05):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 — the condition may raise while things start
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error {last!r})" if last else ""))


def http_get(url, timeout=3):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def need(*what):
    for b in (SIGNAL_BIN, SFU_BIN):
        if not os.path.exists(b):
            skip(b + " not built")
    if not os.path.exists(os.path.join(SRC_DIR, "libwebrtc/include/rtc/pc.h")):
        skip("no PeerConnection layer: the SFU has no media engine")
    for t in ("redis-server", "redis-cli") + tuple(what):
        if not shutil.which(t):
            skip(t + " not installed")


class Redis:
    def __init__(self, procs, port=None):
        import redis as pyredis
        self.procs = procs
        self.port = port or free_port()
        self.dir = procs.tmpdir("cluster-redis-")
        self.proc = None
        self.client = pyredis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                                    socket_timeout=2, socket_connect_timeout=2)
        self.start()

    def start(self):
        # No persistence: a restart comes back empty, the hardest case (docs/redis.md).
        self.proc = self.procs.spawn(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", self.dir,
                                      "--daemonize", "no"], os.path.join(self.dir, "redis.log"))
        wait_for(lambda: self.client.ping(), 10, "redis-server to answer")

    def kill(self):
        Procs.kill(self.proc, signal.SIGKILL)
        self.client.connection_pool.disconnect()

    def up(self):
        try:
            return self.client.ping()
        except Exception:  # noqa: BLE001
            return False


class Sfu:
    def __init__(self, procs, redis_port, node_id, udp_host="127.0.0.1", ttl="3s", heartbeat="1s",
                 workers=2, extra=()):
        self.procs = procs
        self.id = node_id
        self.http_port = free_port()
        self.dir = procs.tmpdir(f"cluster-{node_id}-")
        self.log = os.path.join(self.dir, "sfu.log")
        # udp.listen's address is also the SFU's ICE interface filter: its only candidates are
        # on that address (docs/sfu.md), so media stays where the test put it.
        self.args = [SFU_BIN, "--node_id", node_id, "--redis.port", str(redis_port),
                     "--workers", str(workers), "--udp.listen", f"{udp_host}:0",
                     "--public_ip", udp_host, "--http.listen", f"127.0.0.1:{self.http_port}",
                     "--node.ttl", ttl, "--node.heartbeat", heartbeat, *extra]
        self.proc = procs.spawn(self.args, self.log)

    def metrics(self):
        st, body = http_get(f"http://127.0.0.1:{self.http_port}/metrics")
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out

    def kill(self):
        Procs.kill(self.proc, signal.SIGKILL)

    def tail(self, n=20):
        return tail(self.log, n)


class Signal:
    def __init__(self, procs, redis_port, signal_id, host="127.0.0.1", heartbeat="1s", extra=()):
        self.procs = procs
        self.id = signal_id
        self.host = host
        self.port = free_port(host)
        self.dir = procs.tmpdir(f"cluster-{signal_id}-")
        self.log = os.path.join(self.dir, "signal.log")
        self.args = [SIGNAL_BIN, f"--listen={host}:{self.port}", f"--redis.port={redis_port}",
                     f"--api_secret={API_SECRET}", "--dev_mode", f"--heartbeat={heartbeat}",
                     f"--signal_id={signal_id}",
                     f"--web_root={SRC_DIR}/services/signal/web", *extra]
        self.proc = procs.spawn(self.args, self.log)
        self.url = f"http://{host}:{self.port}"
        self.ws_url = f"ws://{host}:{self.port}/ws"

    def healthy(self):
        return http_get(self.url + "/healthz")[0] == 200

    def kill(self, sig=signal.SIGKILL):
        Procs.kill(self.proc, sig)

    def tail(self, n=20):
        return tail(self.log, n)


def slow_failover_note(told, took):
    """The explanation attached to a failover slower than the 10 s issue 7 requires: which
    part took the time (noticing the dead node, or renegotiating with the new one) and how
    loaded the machine was."""
    parts = []
    for who, t in took.items():
        r = (told.get(who) or [None])[0]
        if r is None:
            parts.append(f"{who}: never told to reconnect")
        else:
            parts.append(f"{who}: told to reconnect after {r:.2f} s (node key TTL + signal heartbeat), "
                         f"media back {t - r:.2f} s later (new PeerConnections with the other node)")
    return (" -- FAILOVER TOO SLOW: " + "; ".join(parts) +
            f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def warnings(path, n=40):
    """The last n warn/error lines of a service log (what went wrong is rarely in the tail)."""
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip() for l in f if '"level":"warn"' in l or '"level":"error"' in l]
        return "\n".join(lines[-n:])
    except OSError:
        return ""


def tail(path, n=20, skip_debug=True):
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip() for l in f if not (skip_debug and '"level":"debug"' in l)]
        return "\n".join(lines[-n:])
    except OSError:
        return ""


class Cluster:
    """redis-server + N starling-sfu + M starling-signal, all sharing one Redis."""

    def __init__(self, procs, n_sfu=2, n_signal=2, udp_host="127.0.0.1", signal_host="127.0.0.1",
                 sfu_ttl="3s", sfu_heartbeat="500ms", signal_heartbeat="500ms", signal_extra=(),
                 sfu_extra=()):
        self.procs = procs
        self.redis = Redis(procs)
        self.r = self.redis.client
        self.sfus = [Sfu(procs, self.redis.port, f"sfu-{c}", udp_host, sfu_ttl, sfu_heartbeat,
                         extra=sfu_extra)
                     for c in "abcdefgh"[:n_sfu]]
        self.signals = [Signal(procs, self.redis.port, f"sig-{i + 1}", signal_host, signal_heartbeat,
                               signal_extra) for i in range(n_signal)]
        wait_for(lambda: all(self.r.hget(PREFIX + "node:" + s.id, "state") == "up" for s in self.sfus),
                 15, "every SFU node registered")
        wait_for(lambda: all(s.healthy() for s in self.signals), 15, "every signal process healthy")

    def sfu(self, node_id):
        return next(s for s in self.sfus if s.id == node_id)

    def room_node(self, room):
        return self.r.hget(PREFIX + "room:" + room, "node")

    def room_participants(self, room):
        """participant id -> participant_info (with "signal") from the hosting node."""
        h = self.r.hgetall(PREFIX + "room:" + room + ":participants")
        return {k: json.loads(v) for k, v in h.items()}

    def participant_signal(self, pid):
        return self.r.hget(PREFIX + "participant:" + pid, "signal")

    def stop(self, timeout=20):
        """SIGTERM every SFU node and signal process still running (they drain and exit), wait
        for them, and return the problems: a non-zero exit, or a sanitizer report in a log
        (asan builds: AddressSanitizer, LeakSanitizer at exit, UBSan runtime errors)."""
        problems = []
        live = [s for s in self.sfus + self.signals if s.proc.poll() is None]
        for s in live:
            s.proc.send_signal(signal.SIGTERM)
        end = time.time() + timeout
        for s in live:
            try:
                rc = s.proc.wait(timeout=max(0.1, end - time.time()))
                if rc != 0:
                    problems.append(f"{s.id} exited with {rc} after SIGTERM")
            except subprocess.TimeoutExpired:
                problems.append(f"{s.id} did not exit within {timeout} s of SIGTERM")
        for s in self.sfus + self.signals:
            try:
                with open(s.log, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if marker in text:
                    i = text.index(marker)
                    problems.append(f"{s.id}: {marker} ...\n{text[max(0, i - 200):i + 1500]}")
        return problems

    def logs(self, n=15):
        out = []
        for s in self.sfus + self.signals:
            out.append(f"--- {s.id} log ({s.log})\n{s.tail(n)}")
        return "\n".join(out)
