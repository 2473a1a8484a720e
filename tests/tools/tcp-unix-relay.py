#!/usr/bin/env python3
"""A loopback TCP port in front of a unix socket (stdlib only), for the
tests under Wine: tests/tools/win/pipe-relay.exe carries a Windows named
pipe to this port, and this carries it to the real ssh-agent's socket
(tests/windows/agent-wine.bats).  Listens on a free 127.0.0.1 port (written
to --port-file once it accepts), relays each connection to --unix both
ways; a connection the socket refuses is closed at once.  SIGTERM ends it.

  tcp-unix-relay.py --port-file FILE --unix SOCKET
"""
import argparse
import signal
import socket
import sys
import threading

from relayutil import listen_loopback, relay


def serve(conn, path):
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        u.connect(path)
    except OSError:
        u.close()
        conn.close()
        return
    relay(conn, u)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--unix", required=True)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = listen_loopback(a.port_file)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, a.unix), daemon=True).start()


if __name__ == "__main__":
    main()
