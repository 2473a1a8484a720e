#!/usr/bin/env python3
"""Loopback HTTP server that misbehaves on purpose, for the AWS client's
retry/timeout tests (tests/bats/awscore.bats).  Standard library only.

Usage: faultserver.py PORTFILE
Binds 127.0.0.1 on a free port and writes the port to PORTFILE once
listening.  The first path segment selects a scenario; every request to a
scenario is counted and its X-Amz-Date / Authorization presence, the
X-Amz-Security-Token presence and the User-Agent are recorded:

  /s503x2/...     503 twice, then a GetCallerIdentity answer
  /throttle/...   400 <ErrorResponse> Throttling, always
  /throttlejson/  400 {"__type": "...#ThrottlingException"}, always
  /hang/...       never answers (sleeps 30 s)
  /e500html/...   500 with an HTML body, always
  /denied/...     403 <ErrorResponse> AccessDenied
  /ec2err/...     400 EC2 <Response><Errors>.. InvalidInstanceID.NotFound
  /jsonerr/...    400 JSON __type with a namespace, x-amzn-RequestId header
  /queryerr/...   400 JSON with header x-amzn-query-error: Code;Sender
  /big/...        200 with a 9 MiB body
  /hugeheader/... 200 with one header line of 200 KB
  /manyheaders/.. 200 with header lines of 1 KB until the client hangs up
                  (at most 16 MiB)
  /badjson/...    200 application/x-amz-json-1.1 with a malformed body
  /badxml/...     200 text/xml with a malformed body
  /ok*/...        200 GetCallerIdentity answer (XML) or {} for JSON
POST /_reset forgets every count.  GET /_count/NAME returns {"count": N, "dates": [...], "auth": [...],
"token": [...], "ua": [...], "targets": [...], "ports": [client ports],
"proxied": [absolute-form request line?], "hosts": [Host headers]}.
A request in absolute form (http://host/NAME/...) is served as NAME: the
server then acts as an HTTP proxy for the client.
"""
import json
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from httputil import QuietHandler

LOCK = threading.Lock()
SEEN = {}

GCI = (b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/'
       b'2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::'
       b'123456789012:user/fault</Arn><UserId>AIDAFAULT</UserId><Account>'
       b'123456789012</Account></GetCallerIdentityResult><ResponseMetadata>'
       b'<RequestId>req-ok</RequestId></ResponseMetadata>'
       b'</GetCallerIdentityResponse>')


def xml_err(code, msg):
    return ('<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code>'
            '<Message>%s</Message></Error><RequestId>req-%s</RequestId>'
            '</ErrorResponse>' % (code, msg, code)).encode()


class H(QuietHandler):
    content_type = "text/xml"

    def do_GET(self):
        if self.path.startswith("/_count/"):
            name = self.path[len("/_count/"):]
            with LOCK:
                rec = SEEN.get(name, {"count": 0, "dates": [], "auth": [],
                                      "token": [], "ua": [], "targets": []})
                body = json.dumps(rec).encode()
            return self.reply(200, body, "application/json")
        self.handle_any()

    def do_POST(self):
        if self.path == "/_reset":
            with LOCK:
                SEEN.clear()
            return self.reply(200, b"{}", "application/json")
        self.handle_any()

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        path = self.path
        proxied = path.startswith("http://")
        if proxied:  # absolute-form: we are being used as a proxy
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        name = path.strip("/").split("/")[0].split("?")[0]
        with LOCK:
            rec = SEEN.setdefault(name, {"count": 0, "dates": [], "auth": [],
                                         "token": [], "ua": [],
                                         "targets": []})
            rec.setdefault("ports", []).append(self.client_address[1])
            rec.setdefault("proxied", []).append(proxied)
            rec.setdefault("hosts", []).append(self.headers.get("Host"))
            rec["count"] += 1
            count = rec["count"]
            rec["dates"].append(self.headers.get("X-Amz-Date"))
            rec["auth"].append(
                (self.headers.get("Authorization") or "").startswith(
                    "AWS4-HMAC-SHA256 Credential="))
            rec["token"].append("X-Amz-Security-Token" in self.headers)
            rec["ua"].append(self.headers.get("User-Agent"))
            rec["targets"].append(self.headers.get("X-Amz-Target"))
        if name == "s503x2":
            if count <= 2:
                return self.reply(503, xml_err("ServiceUnavailable", "busy"))
            return self.reply(200, GCI)
        if name == "throttle":
            return self.reply(400, xml_err("Throttling", "Rate exceeded"))
        if name == "throttlejson":
            return self.reply(400, json.dumps(
                {"__type": "com.amazonaws.ssm#ThrottlingException",
                 "message": "slow down"}).encode(),
                "application/x-amz-json-1.1")
        if name == "hang":
            time.sleep(30)
            return
        if name == "e500html":
            return self.reply(500, b"<!doctype html><html><body>oops"
                             b"</body></html>", "text/html")
        if name == "denied":
            return self.reply(403, xml_err("AccessDenied", "not you"))
        if name == "ec2err":
            return self.reply(400, b"<?xml version=\"1.0\"?><Response><Errors>"
                             b"<Error><Code>InvalidInstanceID.NotFound</Code>"
                             b"<Message>The instance ID 'i-1' does not exist"
                             b"</Message></Error></Errors><RequestID>ec2-req"
                             b"</RequestID></Response>")
        if name == "jsonerr":
            return self.reply(400, json.dumps(
                {"__type": "com.amazonaws.ssm#InvalidInstanceId:http://x",
                 "Message": "no such managed instance"}).encode(),
                "application/x-amz-json-1.1",
                [("x-amzn-RequestId", "json-req")])
        if name == "queryerr":
            return self.reply(400, json.dumps(
                {"__type": "Whatever", "message": "m"}).encode(),
                "application/x-amz-json-1.1",
                [("x-amzn-query-error", "AWS.Custom.Code;Sender"),
                 ("x-amzn-RequestId", "q-req")])
        if name == "hugeheader":
            self.send_response(200)
            self.send_header("X-Huge", "h" * (200 * 1024))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if name == "manyheaders":
            self.send_response(200)
            try:
                for i in range(16 * 1024):
                    self.send_header("X-Filler-%d" % i, "f" * 1000)
                    self.flush_headers()
            except OSError:
                pass
            self.close_connection = True
            return
        if name == "badjson":
            return self.reply(200, b'{"InstanceInformationList": [ {"x": ',
                             "application/x-amz-json-1.1")
        if name == "badxml":
            return self.reply(200, b"<GetCallerIdentityResponse><a></b>")
        if name == "big":
            return self.reply(200, b"x" * (9 * 1024 * 1024))
        if name.startswith("ok"):
            if self.headers.get("X-Amz-Target"):
                return self.reply(200, b'{"Success": true}',
                                 "application/x-amz-json-1.1")
            return self.reply(200, GCI)
        return self.reply(404, xml_err("NoSuchScenario", name))


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
