#!/usr/bin/python3
"""ICE interop: aioice (an independent Python ICE implementation) against libwebrtc's agent
running in ice-probe. Signalling goes over the probe's stdin/stdout; the agents talk over
loopback only (aioice's host-address gathering is monkeypatched to 127.0.0.1).

usage: ice_aioice.py PROBE controlling|controlled [--ipv6] [extra probe args...]
  The role is aioice's; the probe takes the other one.

Checks: both sides connect, aioice's nominated pair is loopback to loopback, the probe's 20
pings are answered by aioice and aioice's 20 pings are answered by the probe, and the probe
exits with "result ok".
"""
import asyncio
import sys

import aioice
from aioice import ice

LOOPBACK = "::1" if "--ipv6" in sys.argv else "127.0.0.1"
if "--ipv6" in sys.argv:
    sys.argv.remove("--ipv6")

# Keep aioice on loopback: never gather (or check) the machine's real interfaces.
ice.get_host_addresses = lambda use_ipv4, use_ipv6: [LOOPBACK]

PINGS = 20


async def main():
    probe, role = sys.argv[1], sys.argv[2]
    extra = sys.argv[3:]
    controlling = role == "controlling"
    conn = aioice.Connection(ice_controlling=controlling, use_ipv4=LOOPBACK != "::1",
                             use_ipv6=LOOPBACK == "::1")
    await conn.gather_candidates()
    for c in conn.local_candidates:
        assert c.host == LOOPBACK, c

    proc = await asyncio.create_subprocess_exec(
        probe, "--filter", LOOPBACK, "--role", "controlled" if controlling else "controlling",
        "--ping", str(PINGS), "--echo", "--hold", "2", "--timeout", "20", *extra,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)

    def tell(line):
        proc.stdin.write((line + "\n").encode())

    tell("ufrag " + conn.local_username)
    tell("pwd " + conn.local_password)
    for c in conn.local_candidates:
        tell("candidate candidate:" + c.to_sdp())
    tell("eoc")
    await proc.stdin.drain()

    log = []
    got_creds = asyncio.Event()
    remote_done = asyncio.Event()
    result = {}

    async def read_probe():
        ufrag = pwd = None
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                break
            line = raw.decode().rstrip("\n")
            log.append(line)
            if line.startswith("ufrag "):
                ufrag = line[6:]
            elif line.startswith("pwd "):
                pwd = line[4:]
            elif line.startswith("candidate candidate:"):
                await conn.add_remote_candidate(aioice.Candidate.from_sdp(line[len("candidate candidate:"):]))
            elif line == "eoc":
                await conn.add_remote_candidate(None)
                remote_done.set()
            elif line.startswith("result "):
                result["probe"] = line
            if ufrag and pwd and not got_creds.is_set():
                conn.remote_username = ufrag
                conn.remote_password = pwd
                got_creds.set()

    try:
        return await run(conn, proc, log, got_creds, remote_done, result, read_probe, role)
    finally:
        if proc.returncode is None:  # stop the probe we started, whatever happened
            proc.kill()
            await proc.wait()


async def run(conn, proc, log, got_creds, remote_done, result, read_probe, role):
    reader = asyncio.ensure_future(read_probe())
    await asyncio.wait_for(got_creds.wait(), 10)
    await asyncio.wait_for(remote_done.wait(), 10)
    await asyncio.wait_for(conn.connect(), 15)
    pair = conn._nominated.get(1)
    assert pair is not None, "aioice nominated no pair"
    assert pair.local_candidate.host == LOOPBACK and pair.remote_candidate.host == LOOPBACK, pair
    print("aioice nominated", pair.local_candidate.to_sdp(), "->", pair.remote_candidate.to_sdp())

    # aioice answers the probe's pings and sends its own.
    pongs = set()

    async def serve():
        while len(pongs) < PINGS:
            data = await conn.recv()
            text = data.decode(errors="replace")
            if text.startswith("ping "):
                await conn.send(("pong " + text[5:]).encode())
            elif text.startswith("pong "):
                pongs.add(int(text[5:]))

    server = asyncio.ensure_future(serve())
    for i in range(PINGS):
        await conn.send(("ping %d" % (1000 + i)).encode())
        await asyncio.sleep(0.02)
    try:
        await asyncio.wait_for(server, 10)
    except asyncio.TimeoutError:
        pass
    rc = await asyncio.wait_for(proc.wait(), 25)
    await reader
    await conn.close()
    print("\n".join("probe: " + l for l in log if not l.startswith("candidate")))
    ok = True
    if len(pongs) != PINGS:
        print("FAIL: aioice got %d/%d pongs from the probe" % (len(pongs), PINGS))
        ok = False
    if rc != 0 or result.get("probe") != "result ok":
        print("FAIL: probe exit %d, %s" % (rc, result.get("probe")))
        ok = False
    want = "selected host " + ("[::1]" if LOOPBACK == "::1" else "127.0.0.1")
    if not any(l.startswith(want) for l in log):
        print("FAIL: probe selected no loopback host pair")
        ok = False
    print("PASS" if ok else "FAIL", "(aioice %s)" % role)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
