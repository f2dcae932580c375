#!/usr/bin/python3
"""ICE interop: aioice (an independent Python ICE implementation) against libwebrtc's agent
running in ice-probe. Signalling goes over the probe's stdin/stdout.

aioice gathers host candidates only from --host (default 127.0.0.1; its host-address
gathering is monkeypatched, so it never touches the machine's real interfaces). By default the
probe runs next to this script on the same loopback; with --probe-netns it runs in another
network namespace (the NAT topology of tests/integration/ice_netns_lib.sh), and --stun/--turn
give aioice its servers.

usage: ice_aioice.py PROBE controlling|controlled [options] [-- extra probe args...]
  The role is aioice's; the probe takes the other one.

Checks: both sides connect, the probe's 20 pings are answered by aioice and aioice's 20 pings
are answered by the probe, the probe exits with "result ok", and the probe's selected pair
matches --expect-selected (a regular expression; default: loopback host to loopback host).
"""
import argparse
import asyncio
import re
import sys

import aioice
from aioice import ice

PINGS = 20


def parse_args():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument("probe")
    ap.add_argument("role", choices=["controlling", "controlled"])
    ap.add_argument("--ipv6", action="store_true", help="use ::1 instead of 127.0.0.1")
    ap.add_argument("--host", help="aioice's only host address")
    ap.add_argument("--stun", help="aioice's STUN server HOST:PORT")
    ap.add_argument("--turn", help="aioice's TURN server HOST:PORT (UDP)")
    ap.add_argument("--turn-user", default="u")
    ap.add_argument("--turn-pass", default="p")
    ap.add_argument("--probe-netns", help="run the probe in this network namespace")
    ap.add_argument("--probe-filter", help="the probe's --filter (default: aioice's host)")
    ap.add_argument("--expect-selected", help="regex the probe's last 'selected' line must match")
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args(argv)
    a.extra = extra
    if a.host is None:
        a.host = "::1" if a.ipv6 else "127.0.0.1"
    if a.probe_filter is None:
        a.probe_filter = a.host
    if a.expect_selected is None:
        lo = re.escape("[%s]" % a.host if ":" in a.host else a.host)
        a.expect_selected = r"^selected host %s:\d+ host %s:\d+" % (lo, lo)
    return a


def hostport(s):
    h, p = s.rsplit(":", 1)
    return (h, int(p))


async def main():
    a = parse_args()
    # Keep aioice on the addresses the test chose: never gather the machine's interfaces.
    ice.get_host_addresses = lambda use_ipv4, use_ipv6: [a.host]
    v6 = ":" in a.host
    controlling = a.role == "controlling"
    conn = aioice.Connection(
        ice_controlling=controlling, use_ipv4=not v6, use_ipv6=v6,
        stun_server=hostport(a.stun) if a.stun else None,
        turn_server=hostport(a.turn) if a.turn else None,
        turn_username=a.turn_user if a.turn else None,
        turn_password=a.turn_pass if a.turn else None)
    await conn.gather_candidates()
    for c in conn.local_candidates:
        assert c.type != "host" or c.host == a.host, c
    print("aioice candidates:", "; ".join(c.to_sdp() for c in conn.local_candidates))

    cmd = [a.probe, "--filter", a.probe_filter, "--role", "controlled" if controlling else "controlling",
           "--ping", str(PINGS), "--echo", "--hold", "2", "--timeout", str(a.timeout), *a.extra]
    if a.probe_netns:
        cmd = ["ip", "netns", "exec", a.probe_netns] + cmd
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        return await run(a, conn, proc)
    finally:
        if proc.returncode is None:  # stop the probe we started, whatever happened
            proc.kill()
            await proc.wait()


async def run(a, conn, proc):
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

    reader = asyncio.ensure_future(read_probe())
    await asyncio.wait_for(got_creds.wait(), 10)
    await asyncio.wait_for(remote_done.wait(), 20)
    await asyncio.wait_for(conn.connect(), a.timeout)
    pair = conn._nominated.get(1)
    assert pair is not None, "aioice nominated no pair"
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
        return True

    server = asyncio.ensure_future(serve())
    for i in range(PINGS):
        await conn.send(("ping %d" % (1000 + i)).encode())
        await asyncio.sleep(0.02)
    # Datagrams may be lost, notably the first ones: aioice sends as soon as it nominated,
    # and the probe (RFC 7675) sends nothing until its own check on the pair succeeded.
    # Ask again for what is missing, as the probe does.
    for _ in range(20):
        if server.done():
            break
        await asyncio.sleep(0.5)
        for i in range(PINGS):
            if (1000 + i) not in pongs:
                await conn.send(("ping %d" % (1000 + i)).encode())
    try:
        await asyncio.wait_for(server, 1)
    except asyncio.TimeoutError:
        server.cancel()
    rc = await asyncio.wait_for(proc.wait(), a.timeout + 5)
    await reader
    await conn.close()
    print("\n".join("probe: " + line for line in log if not line.startswith("candidate")))
    ok = True
    if len(pongs) != PINGS:
        print("FAIL: aioice got %d/%d pongs from the probe" % (len(pongs), PINGS))
        ok = False
    if rc != 0 or result.get("probe") != "result ok":
        print("FAIL: probe exit %d, %s" % (rc, result.get("probe")))
        ok = False
    selected = [line for line in log if line.startswith("selected")]
    if not selected or not re.search(a.expect_selected, selected[-1]):
        print("FAIL: probe's selected pair %r does not match %r" % (selected[-1:] or None, a.expect_selected))
        ok = False
    print("PASS" if ok else "FAIL", "(aioice %s)" % a.role)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
