#!/usr/bin/env python3
"""Loopback HTTP server that answers every request with one canned answer,
for the limit and fault tests (tests/bats/limits.bats, faults.bats).
Standard library only.

Usage: cannedserver.py PORTFILE STATUS CONTENT-TYPE BODYFILE
Binds 127.0.0.1 on a free port, writes the port to PORTFILE once
listening, and answers each request with STATUS and the bytes of BODYFILE.
GET /_count returns the number of other requests served.
"""
import sys
import threading
from http.server import ThreadingHTTPServer

from httputil import QuietHandler

LOCK = threading.Lock()
COUNT = [0]


class H(QuietHandler):

    def do_GET(self):
        if self.path == "/_count":
            with LOCK:
                n = COUNT[0]
            self.reply(200, b"%d\n" % n, "text/plain")
            return
        self.do_POST()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        with LOCK:
            COUNT[0] += 1
        self.reply(STATUS, BODY, CTYPE)


def main():
    global STATUS, CTYPE, BODY
    portfile, STATUS, CTYPE, bodyfile = sys.argv[1], int(sys.argv[2]), \
        sys.argv[3], sys.argv[4]
    with open(bodyfile, "rb") as f:
        BODY = f.read()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
