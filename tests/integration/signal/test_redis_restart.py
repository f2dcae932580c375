#!/usr/bin/python3
"""starling-signal while its real redis-server is killed and restarted (empty, same port):
existing WebSockets stay up and keep answering, messages that need Redis get `unavailable`
without closing the socket, new joins get `unavailable` + 1013, /healthz says 503; when Redis
is back the process reconnects, resubscribes, writes its participants and room placement
again, and relaying works for the old sockets and new joins alike. The SFU node is the
scripted test double."""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigtest as T  # noqa: E402

T.need_binaries()
redis = T.Redis()
node = T.FakeSfu(redis.port, "node-a", ttl=3, heartbeat=0.5)
sig = T.Signal(redis.port, "--redis.reconnect_max=500ms", "--redis.command_timeout=1s")
T.wait_for(sig.healthy, 15, "signal healthy")
checks = T.Checks()


def tok(room, ident):
    return T.mint("--room", room, "--identity", ident)


async def t_restart():
    room = "steady"
    a = await T.Client.connect(sig.ws_url)
    ja = await a.join(room, tok(room, "amy"))
    b = await T.Client.connect(sig.ws_url)
    jb = await b.join(room, tok(room, "bill"))
    await a.expect("participant_joined")
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


async def main():
    await checks.run("Redis killed and restarted empty: sockets survive, state re-registered", t_restart())
    assert sig.term() == 0
    checks.done()


asyncio.run(main())
