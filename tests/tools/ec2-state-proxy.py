#!/usr/bin/env python3
"""A thin HTTP proxy in front of moto_server for the cx-instance tests.

moto's EC2 changes states at once (no pending/stopping phase), so this proxy
forwards every request to moto unchanged (Host header included, so SigV4
signatures still verify) and rewrites the instance state in the answers to
DescribeInstances for the first N calls, as scripted:

    POST /proxy/script  {"i-0abc...": ["stopping", "stopping"]}
        the next two DescribeInstances answers about i-0abc... say
        "stopping", later ones pass moto's state through
    POST /proxy/reset   forget scripts and the log
    GET  /proxy/log     [{"action": "DescribeInstances", "instance": "i-..",
                          "state": "stopping"}, {"action": "StartInstances"}, ...]
    POST /proxy/hold    {"actions": ["DescribeInstances"]}: such calls, once
                        arrived, wait (30 s at most) for POST /proxy/release
    GET  /proxy/held    the actions waiting now, in arrival order

Standard library only; independent of the C code.  Usage:
    ec2-state-proxy.py --listen-port PORT --upstream http://127.0.0.1:MOTO
"""

import argparse
import http.client
import http.server
import json
import re
import sys
import threading
import urllib.parse

from httputil import QuietHandler

CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
         "stopping": 64, "stopped": 80}

LOCK = threading.Lock()
SCRIPTS = {}
LOG = []
HOLD = set()
HELD = []
RELEASE = threading.Event()
UPSTREAM = None


def rewrite(body, iid, state):
    """Replaces the instanceState of instance iid in a DescribeInstances XML answer."""
    text = body.decode("utf-8")
    pat = re.compile(r"(<instanceId>%s</instanceId>.*?<instanceState>)(.*?)(</instanceState>)"
                     % re.escape(iid), re.S)
    new = "<code>%d</code><name>%s</name>" % (CODES[state], state)
    text, n = pat.subn(lambda m: m.group(1) + new + m.group(3), text, count=1)
    return text.encode("utf-8"), n


class Handler(QuietHandler):

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _control(self, method, body):
        global SCRIPTS, LOG
        with LOCK:
            if method == "POST" and self.path == "/proxy/script":
                for iid, states in json.loads(body or b"{}").items():
                    for s in states:
                        if s not in CODES:
                            return self.reply(400, b'{"error":"bad state"}')
                    SCRIPTS[iid] = list(states)
                return self.reply(200, b'{"ok":true}')
            if method == "POST" and self.path == "/proxy/reset":
                SCRIPTS, LOG = {}, []
                return self.reply(200, b'{"ok":true}')
            if method == "POST" and self.path == "/proxy/hold":
                HOLD.update(json.loads(body or b"{}").get("actions") or [])
                RELEASE.clear()
                return self.reply(200, b'{"ok":true}')
            if method == "POST" and self.path == "/proxy/release":
                HOLD.clear()
                HELD.clear()
                RELEASE.set()
                return self.reply(200, b'{"ok":true}')
            if method == "GET" and self.path == "/proxy/held":
                return self.reply(200, json.dumps(HELD).encode())
            if method == "GET" and self.path == "/proxy/log":
                return self.reply(200, json.dumps(LOG).encode())
        return self.reply(404, b'{"error":"unknown control path"}')

    def _forward(self, method):
        body = self._body()
        if self.path.startswith("/proxy/"):
            return self._control(method, body)
        params = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        action = (params.get("Action") or [""])[0]
        iid = (params.get("InstanceId.1") or [""])[0]
        with LOCK:
            hold = action in HOLD
            if hold:
                HELD.append(action)
        if hold:
            RELEASE.wait(30)
        u = urllib.parse.urlsplit(UPSTREAM)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.putrequest(method, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding"):
                conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        entry = {"action": action, "instance": iid, "status": resp.status}
        with LOCK:
            script = SCRIPTS.get(iid)
            if action == "DescribeInstances" and resp.status == 200 and script:
                state = script.pop(0)
                data, n = rewrite(data, iid, state)
                if n:
                    entry["state"] = state
            LOG.append(entry)
        headers = [(k, v) for k, v in resp.getheaders()
                   if k.lower() not in ("content-length", "content-type", "connection",
                                        "transfer-encoding", "server", "date")]
        conn.close()
        self.reply(resp.status, data, resp.getheader("Content-Type") or "text/xml", headers)

    def do_GET(self):
        self._forward("GET")

    def do_POST(self):
        self._forward("POST")


def main():
    global UPSTREAM
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen-port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    a = ap.parse_args()
    UPSTREAM = a.upstream
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.listen_port), Handler)
    srv.daemon_threads = True
    print("ec2-state-proxy listening on 127.0.0.1:%d" % a.listen_port, file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
