#!/usr/bin/python3
"""starling-signal while its real redis-server is killed and restarted (empty, same port):
existing WebSockets stay up and keep answering, messages that need Redis get `unavailable`
without closing the socket, new joins get `unavailable` + 1013, /healthz says 503; when Redis
is back the process reconnects, resubscribes, writes its participants and room placement
again, and relaying works for the old sockets and new joins alike; after its pub/sub
connection comes back, its participants get the room state again (`joined`, resumed). The
SFU node is the scripted test double."""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigtest as T  # noqa: E402

T.need_binaries()
redis = T.Redis()
node = T.FakeSfu(redis.port, "node-a", ttl=3, heartbeat=0.5)
sig = T.Signal(redis.port, "--redis.reconnect_max=500ms", "--redis.command_timeout=1s",
               "--join_timeout=3s")
T.wait_for(sig.healthy, 15, "signal healthy")
checks = T.Checks()


def tok(room, ident):
    return T.mint("--room", room, "--identity", ident)


async def t_restart():
    room = "steady"
    a, ja, b, jb = await T.two_in_room(sig.ws_url, sig.ws_url, room, tok(room, "amy"), tok(room, "bill"))
    pa = ja["participant"]["id"]

    redis.kill()
    T.wait_for(lambda: not sig.healthy(), 10, "healthz 503 with Redis down")
    st, h = sig.json("GET", "/healthz")
    assert not h["checks"]["redis"]["ok"], h
    # Old sockets stay up and answer what needs no Redis.
    await a.send({"type": "ping", "ts": 7})
    assert (await a.expect("pong"))["ts"] == 7
    # What needs Redis is refused with `unavailable`, and the socket stays.
    await a.send({"type": "data", "payload": "lost", "rid": "d"})
    e = await a.expect("error")
    assert e["code"] == "unavailable" and e["rid"] == "d", e
    # New joins: unavailable, closed 1013 (try again later).
    c = await T.Client.connect(sig.ws_url)
    await c.send({"type": "join", "room": room, "token": tok(room, "cleo")})
    e = await c.expect("error")
    assert e["code"] == "unavailable", e
    assert (await c.closed())[0] == 1013

    time.sleep(1.5)
    redis.start()  # same port, empty: every key is gone
    T.wait_for(sig.healthy, 20, "healthz 200 after Redis returned (and the node re-registered)")
    # Signal wrote its participant and placement back.
    try:
        T.wait_for(lambda: redis.client.hget(f"starling:participant:{pa}", "signal"), 10,
                   "participant key re-registered")
    except AssertionError:
        print(redis.client.keys("*"), pa)
        print(sig.logtext()[-3000:])
        raise
    T.wait_for(lambda: redis.client.hget(f"starling:room:{room}", "node") == "node-a", 10,
               "room placement re-registered")
    assert redis.client.hget(f"starling:participant:{pa}", "room") == room
    # Relaying works again both ways (pub/sub resubscribed on both ends).
    await a.send({"type": "data", "payload": "back again"})
    d = await b.expect("data", 5)
    assert d["payload"] == "back again" and d["from"] == pa, d
    await b.send({"type": "data", "payload": "welcome"})
    d = await a.expect("data", 5)
    assert d["payload"] == "welcome", d
    # New joins work and see the old participants; nobody was dropped by the outage.
    c = await T.Client.connect(sig.ws_url)
    jc = await c.join(room, tok(room, "cleo"))
    assert {p["id"] for p in jc["participants"]} == {pa, jb["participant"]["id"]}, jc
    for x in (a, b):
        for m in x.backlog:
            assert m["type"] != "participant_left", m
    for x in (a, b, c):
        await x.close()
    assert "Redis connection lost" in sig.logtext()


def signal_pubsub_ids():
    """Client ids of signal's pub/sub connections: the ones subscribed to two channels (its own
    to-signal channel and the events); the scripted node subscribes to one."""
    ids = []
    for c in redis.client.client_list(_type="pubsub"):
        if int(c.get("sub", 0)) == 2:
            ids.append(c["id"])
    return ids


async def t_pubsub_loss():
    """Only signal's pub/sub connection drops (again and again) while its command connection
    stays: the nodes' answers come on the former, so a join taken meanwhile would be sent to
    the node and its `joined` published to nobody (the client would wait join_timeout for
    'the media server did not answer'). Every join must end at once: joined, or
    `unavailable` while the subscription is down."""
    room = "pubsub-loss"
    stop = [False]

    def killer():
        while not stop[0]:
            for cid in signal_pubsub_ids():
                try:
                    redis.client.execute_command("CLIENT", "KILL", "ID", cid)
                except Exception:  # noqa: BLE001 — already gone
                    pass
            time.sleep(0.25)

    import threading
    th = threading.Thread(target=killer, daemon=True)
    th.start()
    outcomes = {"joined": 0, "unavailable": 0}
    try:
        end = time.time() + 6
        n = 0
        while time.time() < end:
            n += 1
            c = await T.Client.connect(sig.ws_url)
            await c.send({"type": "join", "room": room, "token": tok(room, f"p{n}"), "rid": "j"})
            # Generous: on a loaded machine a real answer can take a while; the lost-reply
            # case waits join_timeout (3 s here) and ends with that specific message.
            m = await c.expect_any(("joined", "error"), 8)
            if m["type"] == "error":
                assert m["code"] == "unavailable" and "did not answer" not in m.get("message", ""), m
                outcomes["unavailable"] += 1
            else:
                outcomes["joined"] += 1
                await c.send({"type": "leave"})
            try:
                await c.close()
            except Exception:  # noqa: BLE001
                pass
    finally:
        stop[0] = True
        th.join()
    print(f"  joins while signal's pub/sub kept dropping: {outcomes}", flush=True)
    assert outcomes["unavailable"] > 0, f"the drops never refused a join: {outcomes}"
    T.wait_for(sig.healthy, 20, "healthy again")
    c = await T.Client.connect(sig.ws_url)
    await c.join(room, tok(room, "last"))


async def t_room_state_after_pubsub_drop():
    """Signal's pub/sub connection drops as a participant leaves: the participant_left the
    node publishes for the other one may be lost with it (pub/sub keeps nothing). Once the
    subscription is back, signal asks the node for its participants' room state (`resume`),
    and the other one gets a `joined` (resumed) that lists who is there now."""
    room = "resync"
    a, ja, b, jb = await T.two_in_room(sig.ws_url, sig.ws_url, room, tok(room, "ann"), tok(room, "ben"))
    pa, pb = ja["participant"]["id"], jb["participant"]["id"]
    for cid in signal_pubsub_ids():
        redis.client.execute_command("CLIENT", "KILL", "ID", cid)
    await b.send({"type": "leave"})
    j = await a.expect("joined", 15)
    assert j["resumed"] is True and j["participant"]["id"] == pa, j
    assert all(p["id"] != pb for p in j["participants"]), j
    T.wait_for(lambda: node.seen("resume", pa), 5, "resume for ann at the node")
    await a.close()


async def main():
    await checks.run("Redis killed and restarted empty: sockets survive, state re-registered", t_restart())
    await checks.run("only the pub/sub connection drops: joins are refused, never lost", t_pubsub_loss())
    await checks.run("pub/sub back after a drop: participants get the room state again", t_room_state_after_pubsub_drop())
    assert sig.term() == 0
    checks.done()


asyncio.run(main())
