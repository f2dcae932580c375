#!/usr/bin/python3
"""TEST DOUBLE — a scripted stand-in for an SFU node, NOT the real starling-sfu.

It speaks the Redis side of docs/redis.md just well enough for starling-signal's integration
tests while the real SFU is built in parallel: it registers a node key and a score in the
nodes set (with a heartbeat), listens on its command channel, and answers the bus messages
signal sends: `join` -> `joined` (+ `participant_joined` to the others), `resume`, `offer` ->
an `answer` derived from the offer (direction flipped, setup passive, rids/simulcast turned to
recv, so a real browser accepts it; no media ever flows), `leave`/`remove`/`close_room`,
`data`, `mute`; with --lossy-name, one participant's answers are "lost" once each way (see
handle). It removes participants whose participant key expired (the resume-grace
sweep docs/redis.md asks of SFU nodes). Every bus message it receives is appended to a JSON
lines file (--record) so tests can check what reached the node.

Run with Debian's /usr/bin/python3 (python3-redis).
"""
import argparse
import json
import os
import random
import signal
import string
import sys
import threading
import time

import redis


def rand(n=8):
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(n))


def fresh_session_line(l, ufrag, pwd):
    """The lines an SDP of ours always rewrites from the client's: a new origin, our own ICE
    credentials. None for any other line."""
    if l.startswith("o="):
        parts = l.split(" ")
        if len(parts) >= 6:
            parts[0], parts[1], parts[2] = "o=-", str(random.randint(1, 2**31)), "1"
        return " ".join(parts)
    if l.startswith("a=ice-ufrag:"):
        return "a=ice-ufrag:" + ufrag
    if l.startswith("a=ice-pwd:"):
        return "a=ice-pwd:" + pwd
    return None


def answer_from_offer(sdp):
    """An answer a browser will apply to its own offer: same m-lines, codecs and BUNDLE group;
    directions reversed; setup passive; simulcast/rid flipped to recv; no ssrcs, msids or
    candidates of ours; fresh ICE credentials; ICE-lite like the real SFU."""
    lines = [l for l in sdp.replace("\r\n", "\n").split("\n") if l]
    out = []
    ufrag, pwd = rand(8), rand(24)
    flip = {"a=sendonly": "a=recvonly", "a=recvonly": "a=sendonly"}
    in_media = False
    for l in lines:
        if l.startswith("m="):
            in_media = True
        fresh = fresh_session_line(l, ufrag, pwd)
        if fresh is not None:
            l = fresh
        elif l.startswith("t="):
            out.append(l)
            out.append("a=ice-lite")
            continue
        elif l in flip:
            l = flip[l]
        elif l.startswith("a=setup:"):
            l = "a=setup:passive"
        elif l.startswith("a=simulcast:send "):
            l = "a=simulcast:recv " + l[len("a=simulcast:send "):]
        elif l.startswith("a=rid:") and " send" in l:
            l = l.replace(" send", " recv", 1)
        elif (l.startswith("a=ssrc") or l.startswith("a=msid:") or l.startswith("a=candidate")
              or l.startswith("a=end-of-candidates") or l.startswith("a=ice-options")):
            continue
        elif l.startswith("a=msid-semantic") and not in_media:
            pass
        out.append(l)
    return "\r\n".join(out) + "\r\n"


def sub_offer_from(sdp):
    """A subscriber offer a browser will apply: the client's own publisher offer sent back
    (the node offers what the client publishes, as if forwarding it), with fresh ICE
    credentials, ICE-lite, and no simulcast, rids, ssrcs or candidates."""
    out = []
    ufrag, pwd = rand(8), rand(24)
    for l in [l for l in sdp.replace("\r\n", "\n").split("\n") if l]:
        fresh = fresh_session_line(l, ufrag, pwd)
        if fresh is not None:
            l = fresh
        elif l.startswith("t="):
            out += [l, "a=ice-lite"]
            continue
        elif l.startswith(("a=simulcast:", "a=rid:", "a=ssrc", "a=candidate", "a=end-of-candidates",
                           "a=ice-options")):
            continue
        out.append(l)
    return "\r\n".join(out) + "\r\n"


def media_kinds(sdp):
    """mid -> kind for each m-line of an SDP."""
    kinds, kind = {}, None
    for l in sdp.replace("\r\n", "\n").split("\n"):
        if l.startswith("m="):
            kind = l[2:].split(" ")[0]
        elif l.startswith("a=mid:") and kind:
            kinds[l[6:].strip()] = kind
    return kinds


class Node:
    def __init__(self, args):
        self.args = args
        self.prefix = args.prefix
        self.id = args.node_id
        self.r = redis.Redis(host="127.0.0.1", port=args.redis_port, decode_responses=True)
        self.rooms = {}  # room -> {pid: {"identity", "name", "signal", "tracks": []}}
        self.lock = threading.Lock()
        self.stop = False
        self.record = open(args.record, "a", buffering=1) if args.record else None
        self.sids = {}
        self.missing = {}  # pid -> when its participant key was first seen missing
        self.instance = rand(16)  # per process, as the real node's (a restart is a new one)

    # ---- registry -----------------------------------------------------------------------
    def register(self):
        key = f"{self.prefix}node:{self.id}"
        load = self.args.load + sum(len(p) for p in self.rooms.values())
        self.r.hset(key, mapping={
            "id": self.id, "public_ip": "127.0.0.1", "udp_ports": "0", "workers": "1",
            "load": str(load), "capacity": str(self.args.capacity), "state": self.args.state,
            "started_at": str(int(time.time())), "version": "test-double",
            "instance": self.instance})
        self.r.expire(key, self.args.ttl)
        self.r.zadd(f"{self.prefix}nodes", {self.id: load})

    def heartbeat_loop(self):
        while not self.stop:
            try:
                self.register()
                with self.lock:  # re-register what we own (Redis may have restarted empty)
                    for room, parts in self.rooms.items():
                        for pid, p in parts.items():
                            self.store(room, pid, p)
                self.sweep()
            except redis.exceptions.RedisError:
                pass  # Redis restarting: keep trying, like a real node
            time.sleep(self.args.heartbeat)

    # ---- sending ------------------------------------------------------------------------
    def to(self, signal_id, room, pid, mtype, payload):
        msg = {"type": mtype, "room": room, "participant": pid, "signal": signal_id,
               "payload": payload}
        self.r.publish(f"{self.prefix}to-signal:{signal_id}", json.dumps(msg))

    def others(self, room, pid):
        return [(p, info) for p, info in self.rooms.get(room, {}).items() if p != pid]

    def info(self, pid, p):
        return {"id": pid, "identity": p["identity"], "name": p["name"], "tracks": p["tracks"]}

    def store(self, room, pid, p):
        d = self.info(pid, p)
        d["signal"] = p["signal"]
        self.r.hset(f"{self.prefix}room:{room}:participants", pid, json.dumps(d))
        self.r.hset(f"{self.prefix}room:{room}", "participants", len(self.rooms.get(room, {})))

    def drop(self, room, pid, reason, tell_self=None):
        parts = self.rooms.get(room, {})
        p = parts.pop(pid, None)
        if p is None:
            return
        if tell_self:
            self.to(p["signal"], room, pid, "left", {"reason": tell_self})
        self.r.hdel(f"{self.prefix}room:{room}:participants", pid)
        for other, info in parts.items():
            self.to(info["signal"], room, other, "participant_left",
                    {"participant_id": pid, "reason": reason})
        if not parts:
            self.rooms.pop(room, None)
            self.r.expire(f"{self.prefix}room:{room}", 60)
        else:
            self.r.hset(f"{self.prefix}room:{room}", "participants", len(parts))

    def sweep(self):
        """Participants whose participant key expired (client never resumed) are removed —
        once the key has been missing for --sweep-grace seconds, so that a Redis restart
        (signal writes the keys again within a second) removes nobody."""
        now = time.time()
        with self.lock:
            for room in list(self.rooms):
                for pid in list(self.rooms.get(room, {})):
                    if self.r.exists(f"{self.prefix}participant:{pid}"):
                        self.missing.pop(pid, None)
                    elif now - self.missing.setdefault(pid, now) >= self.args.sweep_grace:
                        self.missing.pop(pid, None)
                        self.drop(room, pid, "disconnected")

    # ---- commands -----------------------------------------------------------------------
    def handle(self, m):
        t, room, pid = m.get("type"), m.get("room", ""), m.get("participant", "")
        sig, pl = m.get("signal", ""), m.get("payload") or {}
        if t == "join":
            parts = self.rooms.setdefault(room, {})
            for other, info in list(parts.items()):  # same identity elsewhere: replaced
                if other != pid and info["identity"] == pl.get("identity"):
                    self.drop(room, other, "replaced", tell_self="replaced")
            parts = self.rooms.setdefault(room, {})
            known = pid in parts
            p = parts.get(pid) or {"tracks": []}
            p.update(identity=pl.get("identity", ""), name=pl.get("name", ""),
                     signal=pl.get("signal", sig))
            parts[pid] = p
            sid = self.sids.setdefault(room, "RM_" + rand(12))
            self.store(room, pid, p)
            self.to(p["signal"], room, pid, "joined",
                    {"sid": sid, "participants": [self.info(o, i) for o, i in self.others(room, pid)]})
            if not known:
                for other, info in self.others(room, pid):
                    self.to(info["signal"], room, other, "participant_joined",
                            {"participant": self.info(pid, p)})
        elif t == "resume":
            p = self.rooms.get(room, {}).get(pid)
            if p is None:
                self.to(pl.get("signal", sig), room, pid, "error",
                        {"code": "resume_failed", "message": "unknown participant on this node"})
                return
            p["signal"] = pl.get("signal", sig)
            self.store(room, pid, p)
            self.to(p["signal"], room, pid, "joined",
                    {"sid": self.sids.get(room, ""),
                     "participants": [self.info(o, i) for o, i in self.others(room, pid)]})
        elif t == "offer":
            p = self.rooms.get(room, {}).get(pid)
            if p is None:
                return
            sdp = pl.get("sdp", "")
            lossy = self.args.lossy_name and p["name"] == self.args.lossy_name
            if lossy and not p.get("lost_answer"):
                # --lossy-name: this participant's first publisher answer is "lost" on the
                # way (never sent); its client must make the offer again.
                p["lost_answer"] = True
                return
            self.to(p["signal"], room, pid, "answer",
                    {"pc": "publisher", "sdp": answer_from_offer(sdp)})
            if lossy and "sub_offer" not in p:
                # ... and it gets a subscriber offer whose answer is "lost" once too: the
                # same offer (same offer_id) comes again when its answer arrives.
                p["sub_offer"] = sub_offer_from(sdp)
                self.to(p["signal"], room, pid, "offer",
                        {"pc": "subscriber", "sdp": p["sub_offer"], "offer_id": 1})
            kinds = media_kinds(sdp)
            for t_ in pl.get("tracks") or []:
                tid = f"TR_{pid}_{t_.get('mid')}"
                if any(x["id"] == tid for x in p["tracks"]):
                    continue
                ti = {"id": tid, "kind": kinds.get(t_.get("mid"), "video"),
                      "source": t_.get("source"), "name": t_.get("name", ""), "muted": False,
                      "simulcast": [], "width": 0, "height": 0}
                p["tracks"].append(ti)
                for other, info in self.others(room, pid):
                    self.to(info["signal"], room, other, "track_published",
                            {"participant_id": pid, "track": ti})
            self.store(room, pid, p)
        elif t == "answer":
            p = self.rooms.get(room, {}).get(pid)
            if p is not None and "sub_offer" in p and not p.get("sub_offer_repeated"):
                p["sub_offer_repeated"] = True
                self.to(p["signal"], room, pid, "offer",
                        {"pc": "subscriber", "sdp": p["sub_offer"], "offer_id": 1})
        elif t == "mute":
            for other, info in self.others(room, pid):
                self.to(info["signal"], room, other, "track_muted",
                        {"participant_id": pid, "track_id": pl.get("track_id"),
                         "muted": pl.get("muted")})
        elif t == "data":
            to = pl.get("to")
            for other, info in self.others(room, pid):
                if to is None or other in to:
                    self.to(info["signal"], room, other, "data",
                            {"from": pid, "payload": pl.get("payload")})
        elif t == "leave":
            self.drop(room, pid, pl.get("reason", "left"))
        elif t == "remove":
            self.drop(room, pid, "removed", tell_self="removed")
        elif t == "close_room":
            for other in list(self.rooms.get(room, {})):
                self.drop(room, other, "room_closed", tell_self="room_closed")

    def run(self):
        threading.Thread(target=self.heartbeat_loop, daemon=True).start()
        while not self.stop:
            try:
                ps = self.r.pubsub(ignore_subscribe_messages=True)
                ps.subscribe(f"{self.prefix}sfu:{self.id}")
                print(f"fake_sfu {self.id}: ready", flush=True)
                while not self.stop:
                    msg = ps.get_message(timeout=0.2)
                    if not msg or msg["type"] != "message":
                        continue
                    try:
                        m = json.loads(msg["data"])
                    except ValueError:
                        continue
                    if self.record:
                        self.record.write(json.dumps(m) + "\n")
                    with self.lock:
                        self.handle(m)
            except redis.exceptions.RedisError:
                time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--node-id", required=True)
    ap.add_argument("--prefix", default="starling:")
    ap.add_argument("--load", type=float, default=0)
    ap.add_argument("--capacity", type=int, default=0)
    ap.add_argument("--state", default="up")
    ap.add_argument("--ttl", type=int, default=10)
    ap.add_argument("--heartbeat", type=float, default=2)
    ap.add_argument("--record")
    ap.add_argument("--sweep-grace", type=float, default=5)
    ap.add_argument("--lossy-name", help="the participant of this name loses its first "
                    "publisher answer and the first answer to its subscriber offer")
    args = ap.parse_args()
    node = Node(args)

    def on_term(*_):
        node.stop = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    node.run()


if __name__ == "__main__":
    main()
