#!/usr/bin/python3
"""SFU node failover with real browsers: headless Chromium pages on starling-signal's demo page
(services/signal/web), run by tests/integration/test_cluster_chromium.sh.

This driver runs inside the server-side network namespace the shell test created, where it
starts redis-server (on the namespace's 127.0.0.1), two starling-sfu nodes and two
starling-signal processes (media and WebSocket on HOST, the namespace's veth address; the
SFUs' only ICE candidates are there). The pages run in the browser-side namespace
(chromium_pages.js, started with `ip netns exec BROWSER_NS`).

  1. Alice's page comes from sig-1 and Bob's from sig-2: both are placed on one node, and each
     page decodes the other's video (framesDecoded of its subscriber PeerConnection).
  2. kill -9 that node: both pages are told `reconnect`, rebuild their PeerConnections with the
     other node, and decode video there; the time from the kill to the first frame decoded on
     the new subscriber PeerConnection is logged and must be under 10 s.

usage: chromium_cluster.py HOST BROWSER_NS
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

HOST, BROWSER_NS = sys.argv[1], sys.argv[2]
JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chromium_pages.js")
NODE_PATH = os.path.join(C.SRC_DIR, "tests/interop/node_modules")


class Pages:
    def __init__(self, procs, room, url_a, url_b):
        self.events = []
        self.lock = threading.Lock()
        home = procs.tmpdir("cluster-chromium-")
        self.errlog = os.path.join(home, "node.err")
        self.proc = procs.spawn(["ip", "netns", "exec", BROWSER_NS, "env", f"NODE_PATH={NODE_PATH}",
                                 f"HOME={home}", "node", JS, room, url_a, url_b], self.errlog,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(ev)
            if ev["ev"] != "tick":
                C.log(f"  [chromium] {json.dumps(ev)[:300]}")

    def ticks(self, who, since=0.0):
        with self.lock:
            return [e for e in self.events if e["ev"] == "tick" and e["who"] == who and e["t"] >= since]

    def last(self, who):
        t = self.ticks(who)
        return t[-1] if t else None

    def errors(self):
        with self.lock:
            return [e for e in self.events if e["ev"] == "error"]

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=20)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                pass


def main():
    for t in ("node", "chromium", "ip"):
        if not C.shutil.which(t):
            C.skip(t + " not installed")
    C.need()
    procs = C.Procs()
    failed = []

    def ok(cond, what):
        print(("PASS " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failed.append(what)
        return cond

    t0 = time.time()
    cl = C.Cluster(procs, udp_host=HOST, signal_host=HOST)
    s1, s2 = cl.signals
    room = "chromium-failover"
    pages = Pages(procs, room, s1.url, s2.url)
    try:
        def both_decoding(n):
            a, b = pages.last("alice"), pages.last("bob")
            return a and b and a["state"] == "joined" and b["state"] == "joined" and \
                a["frames"] >= n and b["frames"] >= n and (a, b)

        a, b = C.wait_for(lambda: both_decoding(30), 90, "both pages to decode 30 video frames")
        ok(True, f"alice (page and WebSocket on sig-1) and bob (sig-2) decode each other's video "
                 f"({a['frames']}, {b['frames']} frames)")
        node = cl.room_node(room)
        parts = cl.room_participants(room)
        ok(node in [s.id for s in cl.sfus] and set(parts) == {a["id"], b["id"]},
           f"one room on one node ({node}) with both: {sorted(parts)}")
        ok(parts[a["id"]].get("signal") == "sig-1" and parts[b["id"]].get("signal") == "sig-2",
           "the node knows alice through sig-1 and bob through sig-2")
        other = next(s.id for s in cl.sfus if s.id != node)
        gens = {w: pages.last(w)["gen"] for w in ("alice", "bob")}

        C.log(f"kill -9 {node} (pid {cl.sfu(node).proc.pid})")
        t_kill = time.time()
        cl.sfu(node).kill()
        took = {}
        for who in ("alice", "bob"):
            e = C.wait_for(lambda who=who: next((e for e in pages.ticks(who, t_kill)
                                                  if e["gen"] > gens[who] and e["frames"] > 0), None),
                           40, f"{who}'s page to decode video on a new subscriber PeerConnection")
            took[who] = e["t"] - t_kill
        told = {w: [round(r - t_kill, 2) for r in pages.last(w)["reconnects"] if r >= t_kill]
                for w in ("alice", "bob")}
        worst = max(took.values())
        print(f"MEASURED chromium failover: kill -9 {node} -> reconnect told after {told} s; first "
              f"frame decoded on the new node after alice {took['alice']:.2f} s, bob {took['bob']:.2f} s",
              flush=True)
        ok(all(told.values()), "both pages were told to reconnect")
        ok(worst < 10.0, f"both pages decode video again {worst:.2f} s after the kill (< 10 s)" +
           ("" if worst < 10.0 else C.slow_failover_note(told, took)))
        a2, b2 = C.wait_for(lambda: both_decoding(30) if pages.last("alice")["gen"] > gens["alice"] and
                            pages.last("bob")["gen"] > gens["bob"] else None, 30,
                            "30 frames on the new PeerConnections")
        ok(a2["id"] == a["id"] and b2["id"] == b["id"], "same participant ids")
        ok(cl.room_node(room) == other and set(cl.room_participants(room)) == {a["id"], b["id"]},
           f"the room is on {other} with both")
        ok(not pages.errors(), f"no page errors ({pages.errors()[:3]})")
    except AssertionError as e:
        ok(False, str(e))
        for w in ("alice", "bob"):
            print(f"last tick of {w}: {pages.last(w)}", flush=True)
    finally:
        pages.quit()
    problems = cl.stop()
    ok(not problems, "the services exit cleanly on SIGTERM" + ("" if not problems else ":\n" + "\n".join(problems)))
    if failed:
        for d in procs.dirs:
            for f in sorted(os.listdir(d)):
                path = os.path.join(d, f)
                if os.path.isfile(path):
                    print(f"--- {path}\n{C.tail(path, 25)}")
                if path.endswith(".log") and C.warnings(path):
                    print(f"--- warnings in {path}\n{C.warnings(path)}")
        print(f"FAILED ({len(failed)}) after {time.time() - t0:.1f} s", flush=True)
        sys.exit(1)
    print(f"PASS ({time.time() - t0:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
