#!/usr/bin/env python3
"""A small HTTP CONNECT proxy for cx-tunnel's transport tests (stdlib only).
Listens on a free 127.0.0.1 port (written to --port-file), answers each
CONNECT host:port with "200 Connection established" and relays bytes both
ways.  Every CONNECT request line is appended to --log.  SIGTERM ends it.

  connectproxy.py --port-file FILE --log FILE [--user U --password P]
                  [--refuse]

--user/--password: a Proxy-Authorization: Basic header with those
credentials is required, else 407.  --refuse: every CONNECT gets 403.
Anything but CONNECT gets 405.
"""
import argparse
import base64
import os
import signal
import socket
import sys
import threading

from relayutil import listen_loopback, relay

MAX_HEAD = 16384


def answer(c, code, text, extra=""):
    body = text + "\n"
    c.sendall(("HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\n"
               "Connection: close\r\n\r\n%s" % (code, text, extra,
                                                len(body), body)).encode())
    c.close()


def serve(c, a, lock):
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d or len(head) > MAX_HEAD:
            c.close()
            return
        head += d
    head, rest = head.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    with lock:
        with open(a.log, "a") as f:
            f.write(lines[0] + "\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "CONNECT":
        answer(c, 405, "Method Not Allowed")
        return
    if a.refuse:
        answer(c, 403, "Forbidden")
        return
    if a.user is not None:
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (a.user, a.password)).encode()).decode()
        got = [l.split(":", 1)[1].strip() for l in lines[1:]
               if l.lower().startswith("proxy-authorization:")]
        if got != [want]:
            answer(c, 407, "Proxy Authentication Required",
                   'Proxy-Authenticate: Basic realm="test"\r\n')
            return
    host, _, port = parts[1].rpartition(":")
    host = host.strip("[]")
    try:
        u = socket.create_connection((host, int(port)), timeout=10)
        u.settimeout(None)
    except (OSError, ValueError):
        answer(c, 502, "Bad Gateway")
        return
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    if rest:
        u.sendall(rest)
    relay(c, u)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password", default="")
    ap.add_argument("--refuse", action="store_true")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    open(a.log, "a").close()
    lock = threading.Lock()
    s = listen_loopback(a.port_file)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, a, lock),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
