#!/usr/bin/env python3
"""A data-channel gateway on loopback that never lets the client finish
connecting, for the signal tests (tests/bats/signals.bats).  Standard
library only.

Usage: stuckgw.py MODE PORTFILE LOGFILE
  silent   accepts, reads what comes (an upgrade request, a TLS
           ClientHello), never answers
  trickle  accepts, reads the upgrade request, then answers
           "HTTP/1.1 101 Switching Protocols..." one byte per second
  close    accepts and closes at once (every attempt fails fast)
  backlog  listens with a backlog of 0 and never accepts; fills the queue
           itself, so that a new connection's SYN goes unanswered
Binds 127.0.0.1 on a free port and writes the port to PORTFILE once
listening.  LOGFILE gets one line per event: "accepted", "first XX" (the first
byte received on a connection, in hex), "got N" (bytes received on it so
far), "sent N" (answer bytes trickled).
"""
import os
import socket
import sys
import threading
import time

mode, portfile, logfile = sys.argv[1:4]
LOCK = threading.Lock()


def log(line):
    with LOCK:
        with open(logfile, "a") as f:
            f.write(line + "\n")


def serve(c):
    got = 0
    c.settimeout(0.2)
    answer = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
    sent = 0
    buf = b""
    while True:
        try:
            d = c.recv(65536)
            if not d:
                return
            if got == 0:
                log("first %02x" % d[0])
            got += len(d)
            buf += d
            log("got %d" % got)
        except socket.timeout:
            pass
        except OSError:
            return
        if mode == "trickle" and b"\r\n\r\n" in buf and sent < len(answer):
            try:
                c.sendall(answer[sent:sent + 1])
            except OSError:
                return
            sent += 1
            log("sent %d" % sent)
            time.sleep(1)


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
if mode == "backlog":
    s.listen(0)
    fill = []
    # the accept queue holds backlog + 1 connections: fill it
    for _ in range(1):
        f = socket.socket()
        f.settimeout(5)
        f.connect(("127.0.0.1", port))
        fill.append(f)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(portfile + ".tmp", portfile)
    while True:
        time.sleep(3600)
s.listen(16)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = s.accept()
    log("accepted")
    if mode == "close":
        c.close()
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
