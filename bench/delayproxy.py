#!/usr/bin/env python3
"""A TCP proxy that adds a round-trip time, for bench/connect --rtt-ms.

    delayproxy.py --rtt-ms R --listen PORT=HOST:UPORT [--listen ...]
                  [--port-file FILE]

Each --listen accepts on 127.0.0.1:PORT (0: a free port) and forwards every
connection to HOST:UPORT.  Per TCP connection, every chunk is delivered R/2
ms after it arrived, in order, in both directions (so one request and its
answer cost R more).  A new connection's first bytes to the server go no
earlier than R/2 + R after the accept: the TCP handshake costs one round
trip on a real network, which a loopback connect does not.  Nothing is
reordered or dropped; end of stream is passed on (after the data).

The ports listened on are written to --port-file ("PORT PORT ...", in the
order of the --listen options) once all listen.  SIGTERM/SIGINT end it.
Standard library only (asyncio); loopback only; independent of the C code.
"""

import argparse
import asyncio
import os
import signal
import sys


class Link:
    """One direction of one connection: a queue released by time."""

    def __init__(self, reader, writer, delay, not_before):
        self.reader = reader
        self.writer = writer
        self.delay = delay
        self.not_before = not_before
        self.queue = asyncio.Queue()

    async def read_side(self):
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await self.reader.read(65536)
                at = max(loop.time(), self.not_before) + self.delay
                await self.queue.put((at, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await self.queue.put((loop.time(), b""))

    async def write_side(self):
        loop = asyncio.get_running_loop()
        try:
            while True:
                at, data = await self.queue.get()
                wait = at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    return
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            return

    async def run(self):
        await asyncio.gather(self.read_side(), self.write_side())


async def serve_one(cr, cw, upstream, rtt):
    loop = asyncio.get_running_loop()
    accepted = loop.time()
    try:
        ur, uw = await asyncio.open_connection(*upstream)
    except OSError:
        cw.close()
        return
    half = rtt / 2.0
    up = Link(cr, uw, half, accepted + rtt)     # the handshake's round trip
    down = Link(ur, cw, half, 0.0)
    try:
        await asyncio.gather(up.run(), down.run())
    finally:
        for w in (cw, uw):
            try:
                w.close()
            except OSError:
                pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtt-ms", type=float, required=True)
    ap.add_argument("--listen", action="append", required=True, metavar="PORT=HOST:UPORT")
    ap.add_argument("--port-file")
    a = ap.parse_args()
    rtt = a.rtt_ms / 1000.0
    servers, ports = [], []
    for spec in a.listen:
        port, _, up = spec.partition("=")
        host, _, uport = up.rpartition(":")
        if host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("delayproxy: loopback upstreams only, not %r" % host)
        upstream = (host, int(uport))
        srv = await asyncio.start_server(
            lambda r, w, u=upstream: serve_one(r, w, u, rtt), "127.0.0.1", int(port),
            reuse_address=True)
        servers.append(srv)
        ports.append(srv.sockets[0].getsockname()[1])
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(" ".join(str(p) for p in ports) + "\n")
        os.replace(tmp, a.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()


if __name__ == "__main__":
    asyncio.run(main())
