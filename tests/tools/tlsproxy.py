#!/usr/bin/env python3
"""Loopback TLS terminator for cx-tunnel's wss:// tests: accepts TLS on a free
127.0.0.1 port with the given certificate and relays the plain bytes to
127.0.0.1:TARGET_PORT.  SIGTERM ends it.

  tlsproxy.py --cert CRT --key KEY --target-port N --port-file FILE
"""
import argparse
import os
import signal
import socket
import ssl
import sys

from relayutil import listen_loopback, relay


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    s = listen_loopback(a.port_file)
    while True:
        c, _ = s.accept()
        try:
            c = ctx.wrap_socket(c, server_side=True)
            u = socket.create_connection(("127.0.0.1", a.target_port))
        except (OSError, ssl.SSLError):
            c.close()
            continue
        relay(c, u)


if __name__ == "__main__":
    sys.exit(main())
