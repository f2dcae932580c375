#!/usr/bin/python3
"""starling-signal's admin API over real HTTP, with two signal processes on a real
redis-server and the scripted SFU node (test double): auth (no token, participant token,
room-scoped admin token, all-rooms admin token), list rooms, room detail, remove a participant
held by the *other* signal process, close a room."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigtest as T  # noqa: E402

T.need_binaries()
redis = T.Redis()
node = T.FakeSfu(redis.port, "node-a")
s1 = T.Signal(redis.port, signal_id="sig-one")
s2 = T.Signal(redis.port, signal_id="sig-two")
T.wait_for(lambda: s1.healthy() and s2.healthy(), 15, "signal healthy")
checks = T.Checks()


def tok(room, ident, *extra):
    return T.mint("--room", room, "--identity", ident, *extra)


async def t_admin():
    a = await T.Client.connect(s1.ws_url)
    ja = await a.join("r1", tok("r1", "ann"))
    b = await T.Client.connect(s1.ws_url)
    jb = await b.join("r1", tok("r1", "bob"))
    c = await T.Client.connect(s1.ws_url)
    jc = await c.join("r2", tok("r2", "cat"))
    await a.expect("participant_joined")
    admin = tok("*", "ops", "--admin")
    r1_admin = tok("r1", "r1-ops", "--admin")

    # Auth: none, a participant token, a room-scoped admin token where it does not reach.
    assert s2.json("GET", "/admin/rooms")[0] == 401
    assert s2.json("GET", "/admin/rooms", token="forged.x.y")[0] == 401
    assert s2.json("GET", "/admin/rooms", token=tok("r1", "ann"))[0] == 403
    assert s2.json("GET", "/admin/rooms", token=r1_admin)[0] == 403
    assert s2.json("GET", "/admin/rooms/r2", token=r1_admin)[0] == 403
    assert s2.json("GET", "/admin/rooms/r1", token=r1_admin)[0] == 200
    # An admin token is not a way into rooms it is not for... but "*" admin may join any.
    st, rooms = s2.json("GET", "/admin/rooms", token=admin)
    assert st == 200, st
    by_name = {r["name"]: r for r in rooms["rooms"]}
    assert by_name["r1"]["node"] == "node-a" and by_name["r1"]["participants"] == 2, rooms
    assert by_name["r2"]["participants"] == 1, rooms
    assert by_name["r1"]["sid"] and by_name["r1"]["created_at"] > 0, rooms

    st, r1 = s2.json("GET", "/admin/rooms/r1", token=admin)
    assert st == 200 and r1["node"] == "node-a", r1
    assert sorted(p["identity"] for p in r1["participants"]) == ["ann", "bob"], r1
    assert all("id" in p and "tracks" in p for p in r1["participants"]), r1
    assert s2.json("GET", "/admin/rooms/nope", token=admin)[0] == 404
    assert s2.json("GET", "/admin/rooms/bad:name", token=admin)[0] == 404

    # Remove Bob through sig-two while his socket is on sig-one.
    pb = jb["participant"]["id"]
    assert s2.json("DELETE", f"/admin/rooms/r1/participants/PA_nobody", token=admin)[0] == 404
    assert s2.json("DELETE", f"/admin/rooms/r2/participants/{pb}", token=admin)[0] == 404
    st, res = s2.json("DELETE", f"/admin/rooms/r1/participants/{pb}", token=admin)
    assert st == 200 and res["removed"] is True, (st, res)
    left = await b.expect("left")
    assert left["reason"] == "removed", left
    assert (await b.closed())[0] == 1000
    pl = await a.expect("participant_left")
    assert pl["participant_id"] == pb and pl["reason"] == "removed", pl
    T.wait_for(lambda: node.seen("remove", pb), 5, "remove at the node")
    # Removed means gone: no resume.
    b2 = await T.Client.connect(s2.ws_url)
    await b2.send({"type": "join", "room": "r1", "token": tok("r1", "bob"),
                   "resume": {"participant_id": pb, "session_token": jb["session_token"]}})
    assert (await b2.expect("error"))["code"] == "resume_failed"
    await b2.close()

    # Close r2: its participant is told and disconnected; r1 is untouched.
    assert s2.json("DELETE", "/admin/rooms/nope", token=admin)[0] == 404
    st, res = s2.json("DELETE", "/admin/rooms/r2", token=admin)
    assert st == 200 and res["closed"] is True, (st, res)
    left = await c.expect("left")
    assert left["reason"] == "room_closed", left
    assert (await c.closed())[0] == 1000
    T.wait_for(lambda: node.seen("close_room"), 5, "close_room at the node")
    await a.send({"type": "ping", "ts": 1})
    assert (await a.expect("pong"))["ts"] == 1
    # Wrong methods.
    assert s2.json("POST", "/admin/rooms", token=admin)[0] == 405
    assert s2.json("PATCH", "/admin/rooms/r1", token=admin)[0] in (405, 400)
    await a.close()


async def main():
    await checks.run("admin API: auth, list, detail, remove (cross-process), close", t_admin())
    assert s1.term() == 0 and s2.term() == 0
    checks.done()


asyncio.run(main())
