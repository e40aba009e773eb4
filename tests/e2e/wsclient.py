#!/usr/bin/python3
"""WebSocket client for the end-to-end tests (Debian's python3-websockets).

    wsclient.py URL MSG...     connect, send each MSG, print each echo, close;
                               exit 0 when every echo equals its MSG.
    wsclient.py URL            interactive, for a bash coproc: prints "open"
                               once connected, sends each line read on stdin
                               and prints "echo <reply>" for each reply;
                               prints "closed <code>" when the server closes
                               the connection (then exits 0), "error <why>"
                               on failure (exit 1).

Headers may be given as -H 'Name: value' before URL, and --connect
HOST:PORT connects there instead of to the URL's host, which is then only
the Host header (a wildcard name that does not resolve).
"""
import asyncio
import sys

import websockets


# Keyword arguments for every connect (--connect sets host and port).
CONNECT = {}


async def oneshot(url, headers, msgs):
    async with websockets.connect(url, extra_headers=headers, open_timeout=10,
                                  max_size=None, **CONNECT) as ws:
        for m in msgs:
            await ws.send(m)
            got = await asyncio.wait_for(ws.recv(), 10)
            print(got, flush=True)
            if got != m:
                return 1
    return 0


async def interactive(url, headers):
    try:
        ws = await websockets.connect(url, extra_headers=headers, open_timeout=10,
                                      ping_interval=None, max_size=None, **CONNECT)
    except Exception as e:  # noqa: BLE001 - reported to the test
        print("error", repr(e), flush=True)
        return 1
    print("open", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def pump_stdin():
        while True:
            line = await reader.readline()
            if not line:
                await ws.close()
                return
            try:
                await ws.send(line.decode().rstrip("\n"))
            except websockets.ConnectionClosed:
                return

    async def pump_ws():
        try:
            async for msg in ws:
                print("echo", msg, flush=True)
        except websockets.ConnectionClosed:
            pass
        print("closed", ws.close_code, flush=True)

    stdin_task = asyncio.ensure_future(pump_stdin())
    await pump_ws()
    stdin_task.cancel()
    return 0


def main(argv):
    headers = []
    while len(argv) >= 2 and argv[0] in ("-H", "--connect"):
        if argv[0] == "--connect":
            host, _, port = argv[1].rpartition(":")
            CONNECT.update(host=host, port=int(port))
        else:
            name, _, value = argv[1].partition(":")
            headers.append((name.strip(), value.strip()))
        argv = argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if len(argv) == 1:
        return asyncio.run(interactive(argv[0], headers))
    return asyncio.run(oneshot(argv[0], headers, argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
