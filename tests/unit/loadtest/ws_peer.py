#!/usr/bin/python3
"""A WebSocket server built on Python's `websockets` (Debian python3-websockets), for
tests/unit/test_loadtest_ws.c: an implementation nobody here wrote, driven over loopback.
Prints its port, then serves one client at a time:
  "frag"  -> the message "Hello, fragments" sent in three fragments
  "ping"  -> a ping (the client must answer; websockets waits for the pong), then "pong seen"
  "close" -> close with code 4001 "bye"
  other   -> echoed back
Only connections that asked for the subprotocol "janus-protocol" are accepted (the handshake
picks it)."""
import asyncio
import sys

import websockets


async def handler(ws, path=None):
    async for msg in ws:
        if msg == "frag":
            await ws.send(["Hello", ", frag", "ments"])
        elif msg == "ping":
            waiter = await ws.ping(b"are you there")
            await asyncio.wait_for(waiter, 5)
            await ws.send("pong seen")
        elif msg == "close":
            await ws.close(4001, "bye")
            return
        else:
            await ws.send(msg)


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["janus-protocol"],
                                max_size=2 ** 21, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 30)


asyncio.run(main())
