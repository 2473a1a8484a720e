#!/usr/bin/env python3
"""Loopback TCP echo target for stand-in tests: echoes every byte back; SIGTERM ends it.

  echo.py --port-file FILE [--close-after N]   (close the connection after echoing N bytes)
"""
import argparse
import os
import signal
import socket
import sys
import threading


def serve(conn, close_after):
    n = 0
    with conn:
        while True:
            try:
                d = conn.recv(262144)
            except OSError:
                return
            if not d:
                try:
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if close_after and n + len(d) >= close_after:
                d = d[:close_after - n]
                conn.sendall(d)
                return
            n += len(d)
            conn.sendall(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--close-after", type=int, default=0)
    a = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.replace(a.port_file + ".tmp", a.port_file)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, a.close_after), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
