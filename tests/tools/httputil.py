"""What the loopback HTTP test servers share (cannedserver.py,
ec2-state-proxy.py, faultserver.py): an HTTP/1.1 request handler that logs
nothing and answers with reply().  Stdlib only; the servers import it from
their own folder.
"""
from http.server import BaseHTTPRequestHandler


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    content_type = "application/json"   # reply()'s default

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype=None, headers=()):
        """One whole answer: status, Content-Type (ctype, else the
        class's content_type), Content-Length, headers ((name, value)
        pairs), body (bytes)."""
        self.send_response(status)
        self.send_header("Content-Type", self.content_type if ctype is None
                         else ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
