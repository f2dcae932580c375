#!/usr/bin/python3
"""Cluster and fault tests with live media between real WebRTC clients (aiortc, an independent
stack): one redis-server, two starling-signal processes, two starling-sfu nodes, everything on
127.0.0.1 (the SFUs' ICE candidates included; aioice is kept on 127.0.0.1 too).

usage: aiortc_cluster.py failover|redis|signal

  failover  alice enters through sig-1, bob through sig-2: Redis places the room on one node,
            both participants are there and decode each other's video and audio. kill -9 that
            node: both are told `reconnect`, publish again on the other node, and decode each
            other again. The time from the kill to media flowing again (both directions) is
            printed and must be under 10 s.
  redis     with media flowing, kill -9 redis-server and start it again (empty, as without
            persistence) 4 s later: packets keep arriving at both participants all along (no
            gap over 1 s, no `reconnect`), a client trying to join meanwhile gets in once Redis
            is back — into the same room on the same node, decoding both publishers — the
            node, room and participant keys are written again, and nobody is swept out of
            the room afterwards.
  signal    kill -9 the signal process holding alice's WebSocket: alice reconnects to the other
            process and resumes (`joined` with `resumed: true`) without a new publisher offer
            (one offer, one setLocalDescription on one publisher PeerConnection, generation
            unchanged) while media keeps flowing both ways; her participant key and the node's
            participant entry now name sig-2, and a newcomer through sig-2 sees her media.

Prints PASS/FAIL lines, measured times, and the cluster's logs on failure."""
import asyncio
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "aiortc_peer.py")


class Peer:
    """An aiortc_peer.py process and the events it printed (each stamped with its own time)."""

    def __init__(self, procs, name, urls, token_url, room, publish=True, hold=False):
        self.procs, self.name, self.urls, self.token_url, self.room = procs, name, urls, token_url, room
        self.publish = publish
        self.hold = hold
        self.events = []
        self.proc = None
        self.id = None

    async def start(self):
        args = [C.PY, PEER, "--token-url", self.token_url, "--room", self.room,
                "--identity", self.name]
        for u in self.urls:
            args += ["--url", u]
        if self.publish:
            args.append("--publish")
        if self.hold:
            args.append("--hold")
        self.errlog = os.path.join(self.procs.tmpdir(f"cluster-{self.name}-"), "peer.err")
        self.proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=open(self.errlog, "wb"))
        self.procs.add(self.proc)
        PEERS.append(self)
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.events.append(ev)
            if ev["ev"] not in ("tick",):
                C.log(f"  [{self.name}] {json.dumps({k: v for k, v in ev.items() if k != 't'})}")

    def find(self, ev, since=0.0, **fields):
        return [e for e in self.events if e["ev"] == ev and e["t"] >= since and
                all(e.get(k) == v for k, v in fields.items())]

    async def wait(self, pred, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            v = pred()
            if v:
                return v
            if self.proc.returncode is not None:
                raise AssertionError(f"{self.name}'s client exited ({self.proc.returncode}): "
                                     f"{C.tail(self.errlog, 15, False)}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for {what}")

    async def ready(self, timeout=90):
        """--hold: waits until the client has started and waits for `go`."""
        await self.wait(lambda: self.find("ready"), timeout, "the client to start")

    async def go(self):
        self.proc.stdin.write(b"join\n")
        await self.proc.stdin.drain()

    async def joined(self, timeout=20, since=0.0, resumed=False):
        e = await self.wait(lambda: self.find("joined", since, resumed=resumed), timeout,
                            f"joined (resumed={resumed})")
        self.id = e[0]["id"]
        return e[0]

    def tick(self):
        t = [e for e in self.events if e["ev"] == "tick"]
        return t[-1] if t else None

    def frames(self, frm, kind="video", gen_only=False):
        t = self.tick()
        return (t["rx_gen" if gen_only else "rx"].get(f"{frm}/{kind}", 0)) if t else 0

    async def media_from(self, other, n=30, kind="video", timeout=40):
        """Waits until `n` more frames of other's `kind` were decoded here."""
        start = self.frames(other.id, kind)
        await self.wait(lambda: self.frames(other.id, kind) >= start + n, timeout,
                        f"{n} {kind} frames from {other.name}")

    def longest_stall(self, frm, kind, t0, t1):
        """Longest time within [t0, t1] during which no new frame of frm/kind was decoded,
        from the ticks (every 0.2 s). Counts cover every PeerConnection generation."""
        ticks = [(e["t"], e["rx"].get(f"{frm}/{kind}", 0)) for e in self.events if e["ev"] == "tick"]
        inside = [(t, n) for t, n in ticks if t0 <= t <= t1]
        if len(inside) < 2:
            raise AssertionError(f"{self.name}: no ticks between {t0} and {t1}")
        worst, last_change, prev = 0.0, inside[0][0], inside[0][1]
        for t, n in inside[1:]:
            if n != prev:
                last_change, prev = t, n
            worst = max(worst, t - last_change)
        return worst, inside[-1][1] - inside[0][1]

    def frames_between(self, frm, kind, t0, t1):
        """Frames of frm/kind decoded between t0 and t1 (from the ticks nearest inside)."""
        ticks = [(e["t"], e["rx"].get(f"{frm}/{kind}", 0)) for e in self.events if e["ev"] == "tick"]
        inside = [n for t, n in ticks if t0 <= t <= t1]
        return inside[-1] - inside[0] if len(inside) >= 2 else 0

    async def leave(self):
        if self.proc and self.proc.returncode is None:
            try:
                self.proc.stdin.write(b"leave\n")
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 10)
            except (asyncio.TimeoutError, BrokenPipeError, ConnectionResetError):
                self.proc.kill()
                await self.proc.wait()


PEERS = []


class Checks:
    def __init__(self):
        self.failed = 0

    def ok(self, cond, what):
        print(("PASS " if cond else "FAIL ") + what, flush=True)
        if not cond:
            self.failed += 1
        return cond


async def two_publishers(procs, cl, room):
    s1, s2 = cl.signals
    # Held until both have started (importing aiortc takes seconds on a loaded machine).
    alice = await Peer(procs, "alice", [s1.ws_url, s2.ws_url], s1.url, room, hold=True).start()
    bob = await Peer(procs, "bob", [s2.ws_url, s1.ws_url], s2.url, room, hold=True).start()
    await alice.ready()
    await bob.ready()
    await alice.go()
    await alice.joined()
    await bob.go()
    await bob.joined()
    await bob.media_from(alice, 30)
    await alice.media_from(bob, 30)
    await bob.media_from(alice, 20, "audio")
    return alice, bob


def check_placement(ck, cl, room, peers, holders):
    """The room is on one node, every peer is in that node's participant hash, the other node
    hosts nobody, and each peer's participant key names the signal process holding it."""
    node = cl.room_node(room)
    ck.ok(node in [s.id for s in cl.sfus], f"room {room} placed on a live node ({node})")
    parts = cl.room_participants(room)
    ck.ok(set(parts) == {p.id for p in peers},
          f"node {node} lists exactly the participants in {room}: {sorted(parts)}")
    for p, sig in zip(peers, holders):
        ck.ok(cl.participant_signal(p.id) == sig and parts.get(p.id, {}).get("signal") == sig,
              f"{p.name}'s participant key and the node's entry name {sig} "
              f"({cl.participant_signal(p.id)}, {parts.get(p.id, {}).get('signal')})")
    counts = {s.id: C.wait_for(lambda s=s: s.metrics().get("sfu_participants") is not None and
                               s.metrics(), 5, "sfu metrics").get("sfu_participants") for s in cl.sfus}
    ck.ok(counts[node] == len(peers) and all(v == 0 for k, v in counts.items() if k != node),
          f"participants per node (from /metrics): {counts}")
    return node


async def scenario_failover(procs, ck):
    cl = C.Cluster(procs)
    room = "failover"
    alice, bob = await two_publishers(procs, cl, room)
    ck.ok(True, "alice (via sig-1) and bob (via sig-2) decode each other's video and audio")
    node = check_placement(ck, cl, room, [alice, bob], ["sig-1", "sig-2"])
    other = next(s.id for s in cl.sfus if s.id != node)

    C.log(f"kill -9 {node} (pid {cl.sfu(node).proc.pid})")
    t_kill = time.time()
    cl.sfu(node).kill()
    got = {}
    for me, them in ((alice, bob), (bob, alice)):
        ev = await me.wait(lambda me=me, them=them: [e for e in me.find("first_frame", t_kill)
                                                     if e["gen"] >= 1 and e["from"] == them.id and
                                                     e["kind"] == "video"], 30,
                           f"video from {them.name} after the failover")
        got[me.name] = ev[0]["t"] - t_kill
    recon = {p.name: p.find("reconnect", t_kill) for p in (alice, bob)}
    t_reconnect = {n: round(r[0]["t"] - t_kill, 2) for n, r in recon.items() if r}
    worst = max(got.values())
    print(f"MEASURED failover: kill -9 {node} -> reconnect told after {t_reconnect} s; "
          f"video flowing again after alice {got['alice']:.2f} s, bob {got['bob']:.2f} s "
          f"(worst {worst:.2f} s)", flush=True)
    ck.ok(all(r and r[0]["reason"] == "node_failed" for r in recon.values()),
          "both clients got reconnect {reason: node_failed}")
    ck.ok(worst < 10.0, f"media flows again in both directions {worst:.2f} s after the kill (< 10 s)" +
          ("" if worst < 10.0 else C.slow_failover_note({n: [v] for n, v in t_reconnect.items()}, got)))
    await bob.media_from(alice, 30)
    await alice.media_from(bob, 30)
    await bob.media_from(alice, 20, "audio")
    ck.ok(cl.room_node(room) == other, f"room moved to {other} in Redis ({cl.room_node(room)})")
    parts = cl.room_participants(room)
    ck.ok(set(parts) == {alice.id, bob.id}, f"same participant ids on {other}: {sorted(parts)}")
    m = cl.sfu(other).metrics()
    ck.ok(m.get("sfu_participants") == 2 and m.get("sfu_rtp_packets_forwarded_total", 0) > 100,
          f"{other} hosts both and forwards their media ({m.get('sfu_rtp_packets_forwarded_total')} packets)")
    # Its node key expired; its `starling:nodes` member is removed lazily, by the next
    # placement that looks at it (docs/redis.md), so it is not checked here.
    ck.ok(not cl.r.exists(C.PREFIX + "node:" + node), f"{node}'s node key is gone from Redis")

    # The node now hosting the room is killed and started again under the same id before its
    # key expires (a fixed node id, as in Kubernetes): a new instance that knows nothing of
    # the room. Signal sees the node's `instance` change; the participants join it again
    # and renegotiate (docs/redis.md, Faults).
    old = cl.sfu(other)
    C.log(f"kill -9 {other} (pid {old.proc.pid}) and start it again under the same id")
    t_kill2 = time.time()
    old.kill()
    cl.sfus[cl.sfus.index(old)] = C.Sfu(procs, cl.redis.port, other, ttl="3s", heartbeat="500ms")
    for me, them in ((alice, bob), (bob, alice)):
        await me.wait(lambda me=me, them=them: [e for e in me.find("first_frame", t_kill2)
                                                if e["gen"] >= 2 and e["from"] == them.id and
                                                e["kind"] == "video"], 30,
                      f"video from {them.name} after {other} restarted")
    recon2 = {p.name: p.find("reconnect", t_kill2) for p in (alice, bob)}
    ck.ok(all(r and r[0]["reason"] == "node_failed" for r in recon2.values()),
          f"{other} restarted under the same id: both clients told to reconnect, and decode each "
          f"other again on the new instance ({time.time() - t_kill2:.1f} s after the kill)")
    m = C.wait_for(lambda: (lambda x: x if x.get("sfu_participants") == 2 else None)(cl.sfu(other).metrics()),
                   10, "participants on the restarted node")
    ck.ok(cl.room_node(room) == other and m.get("sfu_participants") == 2,
          f"the room stays on {other}; its new instance hosts both")
    await alice.leave()
    await bob.leave()
    return cl


async def scenario_redis(procs, ck):
    cl = C.Cluster(procs)
    room = "redis"
    s1, s2 = cl.signals
    alice, bob = await two_publishers(procs, cl, room)
    node = check_placement(ck, cl, room, [alice, bob], ["sig-1", "sig-2"])
    sid = cl.r.hget(C.PREFIX + "room:" + room, "sid")

    outage = 4.0
    # A newcomer who tries to join while Redis is down: refused (unavailable), retrying until
    # it is back. Started (and held) now: starting aiortc may take seconds.
    carol = await Peer(procs, "carol", [s1.ws_url, s2.ws_url], s1.url, room, publish=False,
                       hold=True).start()
    await carol.ready()
    C.log(f"kill -9 redis-server (pid {cl.redis.proc.pid}); {outage} s down")
    t_kill = time.time()
    cl.redis.kill()
    await asyncio.sleep(1.0)
    await carol.go()
    await asyncio.sleep(outage - 1.0)
    await asyncio.get_running_loop().run_in_executor(None, cl.redis.start)
    t_back = time.time()
    C.log("redis-server is back (empty)")
    cj = await carol.joined(30)
    t_carol = cj["t"] - t_back
    refused = carol.find("ws_closed", code=1013) + carol.find("error", code="unavailable")
    ck.ok(bool(refused), f"carol's joins were refused while Redis was down ({len(refused)} times)")
    await carol.media_from(alice, 30)
    await carol.media_from(bob, 30)
    print(f"MEASURED redis: carol joined {t_carol:.2f} s after redis-server came back and decodes "
          f"alice and bob", flush=True)
    ck.ok(cl.room_node(room) == node, f"after the restart the room is still on {node} "
                                      f"({cl.room_node(room)}) and carol joined it there")
    ck.ok(cl.r.hget(C.PREFIX + "room:" + room, "sid") == sid, "the room kept its sid")
    # Nobody was sent elsewhere and nobody was swept out: wait past the SFU's 5 s grace for
    # missing participant keys (docs/redis.md) and look again.
    await asyncio.sleep(6.5)
    t_end = time.time()
    # Media never went through Redis: it keeps being decoded while Redis is down and after
    # it is back. Asserted on frame counts in each window (nominally 30 video and 50 audio
    # frames a second; a loaded machine decodes fewer, never none); stalls are only logged.
    for me, them in ((bob, alice), (alice, bob)):
        for label, a, b in (("while Redis was down", t_kill, t_back), ("after it came back", t_back, t_end)):
            v = me.frames_between(them.id, "video", a, b)
            au = me.frames_between(them.id, "audio", a, b)
            ck.ok(v >= 10 and au >= 20, f"{me.name} decoded {them.name}'s media {label} "
                                         f"({v} video, {au} audio frames in {b - a:.1f} s)")
        stall, n = me.longest_stall(them.id, "video", t_kill - 0.5, t_end)
        astall, an = me.longest_stall(them.id, "audio", t_kill - 0.5, t_end)
        print(f"MEASURED redis: {me.name} decoded {n} video / {an} audio frames from {them.name} "
              f"across the outage; longest stall {stall:.2f} s video, {astall:.2f} s audio", flush=True)
    ck.ok(not alice.find("reconnect") and not bob.find("reconnect") and
          not alice.find("participant_left") and not bob.find("participant_left") and
          not carol.find("participant_left"),
          "no reconnect and no participant_left for anyone")
    ck.ok(all(cl.r.hget(C.PREFIX + "node:" + s.id, "state") == "up" and
              cl.r.zscore(C.PREFIX + "nodes", s.id) is not None for s in cl.sfus),
          "both nodes registered again")
    parts = cl.room_participants(room)
    ck.ok(set(parts) == {alice.id, bob.id, carol.id},
          f"{node}'s participant hash rewritten with all three: {sorted(parts)}")
    ck.ok(cl.participant_signal(alice.id) == "sig-1" and cl.participant_signal(bob.id) == "sig-2" and
          cl.participant_signal(carol.id) in ("sig-1", "sig-2"),
          "participant keys written again by the signal processes holding the sockets")
    await bob.media_from(alice, 20)
    for p in (alice, bob, carol):
        await p.leave()
    return cl


async def scenario_signal(procs, ck):
    cl = C.Cluster(procs)
    room = "sigkill"
    s1, s2 = cl.signals
    alice, bob = await two_publishers(procs, cl, room)
    node = check_placement(ck, cl, room, [alice, bob], ["sig-1", "sig-2"])
    before = alice.tick()
    sfu = cl.sfu(node)
    tracks_before = sorted(t["id"] for t in cl.room_participants(room)[alice.id]["tracks"])
    m_before = sfu.metrics()
    C.log(f"kill -9 sig-1 (pid {s1.proc.pid}), which holds alice's WebSocket")
    t_kill = time.time()
    s1.kill()
    r = await alice.joined(15, since=t_kill, resumed=True)
    t_resume = r["t"] - t_kill
    ck.ok(r["url"] == s2.ws_url, f"alice resumed through sig-2 ({r['url']})")
    await asyncio.sleep(3.0)
    t_end = time.time()
    after = alice.tick()
    print(f"MEASURED signal: alice resumed {t_resume:.2f} s after kill -9 sig-1", flush=True)
    ck.ok(after["pub_offers"] == before["pub_offers"] == 1 and after["pub_sld"] == before["pub_sld"] == 1,
          f"no new publisher offer (offers {before['pub_offers']} -> {after['pub_offers']}, "
          f"setLocalDescription {before['pub_sld']} -> {after['pub_sld']})")
    ck.ok(after["gen"] == 0 and not alice.find("reconnect") and after["pub"] == "connected" and
          after["pub_signaling"] == "stable",
          f"same publisher PeerConnection, still connected ({after['pub']}, {after['pub_signaling']})")
    ck.ok(after["tx_frames"] > before["tx_frames"] + 30,
          f"alice kept sending ({before['tx_frames']} -> {after['tx_frames']} frames)")
    for me, them in ((bob, alice), (alice, bob)):
        v = me.frames_between(them.id, "video", t_kill, t_end)
        au = me.frames_between(them.id, "audio", t_kill, t_end)
        stall, n = me.longest_stall(them.id, "video", t_kill - 0.5, t_end)
        print(f"MEASURED signal: {me.name} decoded {n} frames of {them.name}'s video around the "
              f"kill; longest stall {stall:.2f} s", flush=True)
        ck.ok(v >= 10 and au >= 20, f"{me.name} kept decoding {them.name}'s media after the kill "
                                    f"({v} video, {au} audio frames in {t_end - t_kill:.1f} s)")
    # The SFU side: alice's published tracks are the same ones (same ids), no track was added
    # or dropped on the node, and it kept receiving and forwarding.
    tracks_after = sorted(t["id"] for t in cl.room_participants(room).get(alice.id, {}).get("tracks", []))
    m_after = sfu.metrics()
    ck.ok(len(tracks_before) == 2 and tracks_after == tracks_before,
          f"{node} keeps alice's published tracks {tracks_before} ({tracks_after})")
    ck.ok(m_after.get("sfu_tracks") == m_before.get("sfu_tracks") == 4 and
          m_after.get("sfu_participants") == 2,
          f"{node} still has 4 tracks and 2 participants "
          f"({m_before.get('sfu_tracks')} -> {m_after.get('sfu_tracks')}, {m_after.get('sfu_participants')})")
    rx = m_after.get("sfu_rtp_packets_received_total", 0) - m_before.get("sfu_rtp_packets_received_total", 0)
    fw = m_after.get("sfu_rtp_packets_forwarded_total", 0) - m_before.get("sfu_rtp_packets_forwarded_total", 0)
    ck.ok(rx > 100 and fw > 100, f"{node} received {rx:.0f} and forwarded {fw:.0f} RTP packets meanwhile")
    ck.ok(cl.participant_signal(alice.id) == "sig-2", "alice's participant key now names sig-2")
    parts = C.wait_for(lambda: cl.room_participants(room).get(alice.id, {}).get("signal") == "sig-2"
                       and cl.room_participants(room), 5, "node's entry for alice to name sig-2")
    ck.ok(set(parts) == {alice.id, bob.id}, "both still in the room on the node")
    # The room still works for alice through sig-2: a newcomer is announced to her, sees her
    # tracks and decodes them; and she is not swept out later (her key is sig-2's now).
    dave = await Peer(procs, "dave", [s2.ws_url], s2.url, room, publish=False, hold=True).start()
    await dave.ready()
    await dave.go()
    await dave.joined()
    await alice.wait(lambda: alice.find("participant_joined", id=dave.id), 10,
                     "participant_joined for dave through sig-2")
    await dave.media_from(alice, 30)
    await asyncio.sleep(3)
    ck.ok(not bob.find("participant_left") and not dave.find("participant_left"),
          "nobody saw alice leave")
    ck.ok(True, "dave (via sig-2) was announced to alice and decodes her video")
    ck.ok(cl.room_node(room) == node, "the room stayed on its node")
    for p in (alice, bob, dave):
        await p.leave()
    return cl


async def main():
    which = sys.argv[1]
    procs = C.Procs()
    ck = Checks()
    fn = {"failover": scenario_failover, "redis": scenario_redis, "signal": scenario_signal}[which]
    cl = None
    t0 = time.time()
    try:
        cl = await fn(procs, ck)
    except AssertionError as e:
        ck.ok(False, str(e))
    finally:
        # The clients are children of this event loop: stop them (by PID) while it runs.
        for p in procs.procs:
            if isinstance(p, asyncio.subprocess.Process) and p.returncode is None:
                p.kill()
                await p.wait()
    if cl is not None:
        # Every service still running drains and exits cleanly, with no sanitizer report.
        problems = await asyncio.get_running_loop().run_in_executor(None, cl.stop)
        ck.ok(not problems, "the services exit cleanly on SIGTERM" +
              ("" if not problems else ":\n" + "\n".join(problems)))
    if ck.failed:
        for p in PEERS:
            print(f"last tick of {p.name} ({p.id}): {json.dumps(p.tick())}")
        for d in procs.dirs:
            for f in sorted(os.listdir(d)):
                path = os.path.join(d, f)
                print(f"--- {path}\n{C.tail(path, 25)}")
                if path.endswith(".log") and C.warnings(path):
                    print(f"--- warnings in {path}\n{C.warnings(path)}")
        print(f"FAILED ({ck.failed}) after {time.time() - t0:.1f} s", flush=True)
        sys.exit(1)
    print(f"PASS ({time.time() - t0:.1f} s)", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
