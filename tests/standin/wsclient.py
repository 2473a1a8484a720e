#!/usr/bin/env python3
"""A tiny SSM data-channel client used only to test the stand-in (tests/standin/standin.py).

Written separately from the stand-in (its own codec, its own websocket code) so that a symmetric
mistake is less likely to cancel out, and checked against the worked examples of
ssm-data-channel.md §6 (`wsclient.py selftest`).  Not the product's client.

Usage:
  wsclient.py selftest
  wsclient.py run --endpoint URL --target i-... [options]     (see --help)

`run` calls StartSession, opens the StreamUrl, does the handshake and then, depending on the mode:
  --send-bytes N     send N pseudo-random bytes and expect them echoed back exactly
  --stdio            relay stdin/stdout (usable as an ssh ProxyCommand)
  --recv             only receive until channel_closed
It prints nothing but tunnelled bytes on stdout; a JSON report goes to --report FILE.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import urllib.request
import urllib.error
import uuid

# ---------------------------------------------------------------------------------------------
# codec (independent of the stand-in's)
# ---------------------------------------------------------------------------------------------


def uuid_to_wire(u):
    b = uuid.UUID(u).bytes
    return b[8:16] + b[0:8]


def wire_to_uuid(w):
    return str(uuid.UUID(bytes=bytes(w[8:16]) + bytes(w[0:8])))


def build(mtype, seq, flags, ptype, payload, mid=None, created=None):
    mid = mid or str(uuid.uuid4())
    out = bytearray()
    out += (116).to_bytes(4, "big")
    t = mtype.encode()
    out += t + b" " * (32 - len(t))
    out += (1).to_bytes(4, "big")
    out += (created if created is not None else int(time.time() * 1000)).to_bytes(8, "big")
    out += seq.to_bytes(8, "big", signed=True)
    out += flags.to_bytes(8, "big")
    out += uuid_to_wire(mid)
    out += hashlib.sha256(payload).digest()
    out += ptype.to_bytes(4, "big")
    out += len(payload).to_bytes(4, "big")
    out += payload
    return bytes(out)


class Msg:
    pass


def parse(frame):
    """Decode per §4.3: HL-relative payload, NUL/space trimmed type, PayloadType only if HL >= 116."""
    if len(frame) < 4:
        raise ValueError("short frame")
    hl = int.from_bytes(frame[0:4], "big")
    if hl < 112 or len(frame) < hl + 4:
        raise ValueError("bad header length %d" % hl)
    m = Msg()
    m.hl = hl
    raw_type = frame[4:36]
    m.type_raw = raw_type
    m.type = raw_type.strip(b" \x00").decode("ascii", "replace")
    m.padding = "nul" if raw_type.endswith(b"\x00") else "space" if raw_type.endswith(b" ") else "none"
    m.schema = int.from_bytes(frame[36:40], "big")
    m.created = int.from_bytes(frame[40:48], "big")
    m.seq = int.from_bytes(frame[48:56], "big", signed=True)
    m.flags = int.from_bytes(frame[56:64], "big")
    m.mid_wire = frame[64:80]
    m.mid = wire_to_uuid(frame[64:80])
    m.digest = frame[80:112]
    m.ptype = int.from_bytes(frame[112:116], "big") if hl >= 116 else 0
    plen = int.from_bytes(frame[hl:hl + 4], "big")
    if hl + 4 + plen > len(frame):
        raise ValueError("payload overruns frame")
    m.payload = frame[hl + 4:hl + 4 + plen]
    m.digest_ok = (plen == 0) or hashlib.sha256(m.payload).digest() == m.digest
    return m


def selftest():
    # §6.1
    f = build("input_stream_data", 5, 0, 1, b"hello", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", 1700000000000)
    want = bytes.fromhex(
        "00000074696e7075745f73747265616d5f64617461202020202020202020202020202020"
        "000000010000018bcfe5680000000000000000050000000000000000"
        "9a0c0305e82c33013f2504e04f8941d3"
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        "0000000100000005" + "68656c6c6f")
    assert f == want, "6.1 mismatch"
    # §6.2
    p = (b'{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":'
         b'"11111111-2222-4333-8444-555555555555","AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true}')
    a = build("acknowledge", 0, 3, 0, p, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", 1700000000000)
    assert len(a) == 296 and a[64:80] == bytes.fromhex("8dddeeeeeeeeeeeeaaaaaaaabbbb4ccc")
    # §6.3
    t = build("input_stream_data", 9, 0, 10, b"\0\0\0\2", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", 1700000000000)
    assert len(t) == 124 and t[80:112].hex() == "433ebf5bc03dffa38536673207a21281612cef5faa9bc7a4d5b9be2fdb12cf1a"
    m = parse(f)
    assert m.type == "input_stream_data" and m.seq == 5 and m.payload == b"hello" and m.digest_ok
    assert m.mid == "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    # HL 112, NUL padded, no PayloadType
    body = b'{"Output":"x"}'
    g = ((112).to_bytes(4, "big") + b"channel_closed".ljust(32, b"\0") + (1).to_bytes(4, "big") +
         (1).to_bytes(8, "big") + bytes(16) + bytes(16) + hashlib.sha256(body).digest() +
         len(body).to_bytes(4, "big") + body)
    m = parse(g)
    assert m.type == "channel_closed" and m.ptype == 0 and m.payload == body and m.padding == "nul"
    print("selftest ok")


# ---------------------------------------------------------------------------------------------
# SigV4 signing (for the optional signed StartSession / websocket upgrade)
# ---------------------------------------------------------------------------------------------

def sigv4_headers(method, url, body, ak, sk, token, region, service, extra=None):
    u = urllib.parse.urlsplit(url)
    t = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    h = {"host": u.netloc, "x-amz-date": t}
    if token:
        h["x-amz-security-token"] = token
    for k, v in (extra or {}).items():
        h[k.lower()] = v
    names = sorted(h)
    q = "&".join(sorted("%s=%s" % (urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"),
                                    urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~"))
                        for k, _, v in (p.partition("=") for p in u.query.split("&") if p)))
    creq = "\n".join([method, urllib.parse.quote(u.path or "/", safe="/-_.~"), q,
                      "".join("%s:%s\n" % (n, " ".join(str(h[n]).split())) for n in names),
                      ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (t[:8], region, service)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (t, scope, hashlib.sha256(creq.encode()).hexdigest())
    k = ("AWS4" + sk).encode()
    for part in (t[:8], region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    out = {"X-Amz-Date": t, "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
           % (ak, scope, ";".join(names), sig)}
    if token:
        out["X-Amz-Security-Token"] = token
    for k2, v in (extra or {}).items():
        out[k2] = v
    return out


def ssm_call(endpoint, op, body, creds, region):
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM." + op}
    if creds:
        headers.update(sigv4_headers("POST", endpoint.rstrip("/") + "/", data, creds[0], creds[1], creds[2],
                                     region, "ssm", {"Content-Type": headers["Content-Type"],
                                                     "X-Amz-Target": headers["X-Amz-Target"]}))
    req = urllib.request.Request(endpoint.rstrip("/") + "/", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


# ---------------------------------------------------------------------------------------------
# websocket client
# ---------------------------------------------------------------------------------------------

class WSClosed(Exception):
    pass


class WS:
    def __init__(self, url, headers=None, max_frame=64 << 20, masked=True, fragment=0):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        lines = ["GET %s HTTP/1.1" % path, "Host: %s" % u.netloc, "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13", "User-Agent: standin-wsclient"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            d = self.sock.recv(4096)
            if not d:
                raise WSClosed("closed during upgrade")
            resp += d
        head, _, rest = resp.partition(b"\r\n\r\n")
        self.status = int(head.split()[1])
        if self.status != 101:
            raise WSClosed("upgrade refused: HTTP %d" % self.status)
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if want not in head:
            raise WSClosed("bad Sec-WebSocket-Accept")
        self.buf = bytearray(rest)
        self.sock.settimeout(None)
        self.wlock = threading.Lock()
        self.max_frame = max_frame
        self.masked = masked
        self.fragment = fragment
        self.close_code = None

    def _frame(self, op, payload, fin=True):
        b0 = (0x80 if fin else 0) | op
        n = len(payload)
        mbit = 0x80 if self.masked else 0
        if n < 126:
            h = bytes((b0, mbit | n))
        elif n < 65536:
            h = bytes((b0, mbit | 126)) + n.to_bytes(2, "big")
        else:
            h = bytes((b0, mbit | 127)) + n.to_bytes(8, "big")
        if not self.masked:
            return h + payload
        mask = os.urandom(4)
        x = int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
        return h + mask + (x.to_bytes(n, "big") if n else b"")

    def encode(self, op, payload):
        if self.fragment and op in (1, 2) and len(payload) > self.fragment:
            parts = [payload[i:i + self.fragment] for i in range(0, len(payload), self.fragment)]
            out = [self._frame(op if i == 0 else 0, p, i == len(parts) - 1) for i, p in enumerate(parts)]
            return b"".join(out)
        return self._frame(op, payload)

    def send(self, op, payload):
        self.send_raw(self.encode(op, payload))

    def send_raw(self, data):
        with self.wlock:
            self.sock.sendall(data)

    def _need(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(262144)
            if not d:
                raise WSClosed("eof")
            self.buf += d

    def recv(self):
        """-> (opcode, payload) of one complete message or control frame."""
        parts = []
        first_op = None
        while True:
            self._need(2)
            b0, b1 = self.buf[0], self.buf[1]
            n = b1 & 0x7F
            hl = 2
            if n == 126:
                self._need(4)
                n = int.from_bytes(self.buf[2:4], "big")
                hl = 4
            elif n == 127:
                self._need(10)
                n = int.from_bytes(self.buf[2:10], "big")
                hl = 10
            if b1 & 0x80:
                raise WSClosed("server frame is masked")
            if n > self.max_frame:
                raise WSClosed("giant frame: %d bytes announced" % n)
            self._need(hl + n)
            payload = bytes(self.buf[hl:hl + n])
            del self.buf[:hl + n]
            op = b0 & 0x0F
            if op >= 8:
                return op, payload
            if op != 0:
                first_op = op
            parts.append(payload)
            if b0 & 0x80:
                return first_op, b"".join(parts)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# the session client
# ---------------------------------------------------------------------------------------------

class Client:
    def __init__(self, a):
        self.a = a
        self.creds = tuple((a.key.split(":") + [None])[:3]) if a.key else None
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.client_id = str(uuid.uuid4())
        self.out_seq = 0
        self.unacked = {}            # seq -> [frame, last_sent, sends]
        self.expected = 0
        self.pending = {}            # seq -> Msg
        self.ready = threading.Event()
        self.done = threading.Event()
        self.received = bytearray() if not a.stdio else None
        self.received_n = 0
        self.rx_hash = hashlib.sha256()
        self.report = {"client_id": self.client_id, "trace": [], "dups_received": 0, "out_of_order_received": 0,
                       "bad_digest_dropped": 0, "unknown_ignored": [], "pauses": 0, "starts": 0, "resumes": 0,
                       "retransmissions": 0, "acks_received": 0, "channel_closed": None, "connects": 0,
                       "errors": [], "upgrade_status": []}
        self.ws = None
        self.conn_gen = 0
        self.paused = False
        self.rtt, self.rttvar, self.rto = 0.1, 0.0, 0.2

    def trace(self, d, m=None, **kw):
        if len(self.report["trace"]) < 40:
            e = {"dir": d}
            if m is not None:
                e.update(type=m.type, seq=m.seq, flags=m.flags, ptype=m.ptype, len=len(m.payload), hl=m.hl)
            e.update(kw)
            self.report["trace"].append(e)

    # --- connection
    def connect(self, url, token):
        headers = {}
        if self.a.sign_ws and self.creds:
            headers = sigv4_headers("GET", url, b"", self.creds[0], self.creds[1], self.creds[2],
                                    self.a.region, "ssmmessages")
        try:
            ws = WS(url, headers, max_frame=self.a.max_frame, fragment=self.a.fragment)
        except WSClosed as e:
            self.report["upgrade_status"].append(str(e))
            raise
        self.report["upgrade_status"].append(101)
        self.report["connects"] += 1
        if self.a.ping_first:
            ws.send(9, b"keepalive")
        odc = {"MessageSchemaVersion": "1.0", "RequestId": str(uuid.uuid4()), "TokenValue": token,
               "ClientId": self.client_id, "ClientVersion": "1.2.0.0"}
        ws.send(1, json.dumps(odc, separators=(",", ":")).encode())
        self.trace("C>S", kind="OpenDataChannel")
        if self.a.data_before_complete and self.report["connects"] == 1:
            seq = self.out_seq        # a client bug on purpose: data before the handshake
            self.out_seq += 1
            f = build("input_stream_data", seq, 0, 1, b"too early")
            self.unacked[seq] = [f, time.time(), 1]
            ws.send(2, f)
        with self.lock:
            self.ws = ws
            self.conn_gen += 1
            gen = self.conn_gen
            # resend everything unacked on a new connection
            for seq in sorted(self.unacked):
                ent = self.unacked[seq]
                ws.send(2, ent[0])
                ent[1] = time.time()
        threading.Thread(target=self.reader, args=(ws, gen), daemon=True).start()
        return ws

    def send_msg(self, data):
        with self.lock:
            ws = self.ws
        if ws is None:
            return
        try:
            ws.send(2, data)
        except OSError:
            pass

    def ack(self, m):
        p = json.dumps({"AcknowledgedMessageType": m.type, "AcknowledgedMessageId": m.mid,
                        "AcknowledgedMessageSequenceNumber": m.seq, "IsSequentialMessage": True},
                       separators=(",", ":")).encode()
        self.send_msg(build("acknowledge", 0, 3, 0, p))
        if m.ptype in (5, 7):
            self.trace("C>S", kind="acknowledge", acks=m.seq)

    def send_stream(self, ptype, payload):
        with self.cond:
            while len(self.unacked) >= self.a.window and not self.done.is_set():
                self.cond.wait(0.2)
            seq = self.out_seq
            self.out_seq += 1
            f = build("input_stream_data", seq, 0, ptype, payload)
            self.unacked[seq] = [f, time.time(), 1]
            if self.a.trace_data or ptype != 1:
                self.trace("C>S", kind="input_stream_data", seq=seq, ptype=ptype, len=len(payload))
        self.send_msg(f)
        return seq

    def retransmitter(self):
        while not self.done.is_set():
            time.sleep(0.1)
            with self.lock:
                if self.paused or self.ws is None:
                    continue
                now = time.time()
                if not self.unacked:
                    continue
                seq = min(self.unacked)          # only the oldest, like the reference (§10)
                ent = self.unacked[seq]
                if now - ent[1] > self.rto:
                    ent[1] = now
                    ent[2] += 1
                    self.report["retransmissions"] += 1
                    self.send_msg(ent[0])

    def reader(self, ws, gen):
        try:
            while True:
                op, payload = ws.recv()
                if op == 9:
                    ws.send(10, payload)
                    continue
                if op == 10:
                    continue
                if op == 8:
                    ws.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self.report["server_close_code"] = ws.close_code
                    try:
                        ws.send(8, payload[:2])
                    except OSError:
                        pass
                    raise WSClosed("close frame %s" % ws.close_code)
                try:
                    m = parse(payload)
                except ValueError as e:
                    self.report["errors"].append("undecodable: %s" % e)
                    continue
                self.on_message(m)
        except (WSClosed, OSError) as e:
            if "giant" in str(e):
                self.report["giant_frame_detected"] = str(e)
            ws.close()
            with self.lock:
                if self.conn_gen != gen:
                    return
                self.ws = None
            if self.done.is_set():
                return
            self.report.setdefault("disconnects", []).append(str(e))
            if self.a.no_resume or "giant" in str(e):
                self.finish(3)
                return
            threading.Thread(target=self.resume, daemon=True).start()

    def resume(self):
        for attempt in range(6):
            time.sleep(0.1 * (2 ** attempt))
            st, r = ssm_call(self.a.endpoint, "ResumeSession", {"SessionId": self.sid}, self.creds, self.a.region)
            if st != 200:
                continue
            if not r.get("TokenValue"):
                self.report["errors"].append("ResumeSession: no token")
                self.finish(4)
                return
            self.report["resumes"] += 1
            self.report.setdefault("resume_urls", []).append(r.get("StreamUrl"))
            try:
                self.connect(r.get("StreamUrl") or self.url, r["TokenValue"])
                return
            except (WSClosed, OSError) as e:
                self.report["errors"].append("reconnect: %s" % e)
        self.finish(5)

    def on_message(self, m):
        rep = self.report
        if m.type == "output_stream_data":
            if not m.digest_ok:
                rep["bad_digest_dropped"] += 1
                return
            with self.lock:
                if m.seq < self.expected or m.seq in self.pending:
                    rep["dups_received"] += 1
                    self.ack(m)
                    return
                if m.seq > self.expected:
                    rep["out_of_order_received"] += 1
                    self.pending[m.seq] = m
                    self.ack(m)
                    return
                self.deliver(m, True)
                while self.expected in self.pending:
                    self.deliver(self.pending.pop(self.expected), False)
        elif m.type == "acknowledge":
            if not m.digest_ok:
                rep["bad_digest_dropped"] += 1
                return
            j = json.loads(m.payload)
            with self.cond:
                ent = self.unacked.pop(j["AcknowledgedMessageSequenceNumber"], None)
                rep["acks_received"] += 1
                if ent is not None:
                    s = time.time() - ent[1]
                    self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.rtt - s)
                    self.rtt = 0.875 * self.rtt + 0.125 * s
                    self.rto = min(self.rtt + max(0.01, 4 * self.rttvar), 1.0)
                if ent is not None and j["AcknowledgedMessageSequenceNumber"] == 0 and self.out_seq <= 2:
                    self.trace("S>C", m, acks=0)
                self.cond.notify_all()
        elif m.type == "channel_closed":
            j = json.loads(m.payload) if m.payload else {}
            rep["channel_closed"] = {"hl": m.hl, "padding": m.padding, "ptype": m.ptype, "output": j.get("Output"),
                                     "json": j}
            self.trace("S>C", m)
            self.finish(0 if not j.get("Output") else 2)
        elif m.type == "pause_publication":
            rep["pauses"] += 1
            rep.setdefault("control_events", []).append(m.type)
            self.paused = True
        elif m.type == "start_publication":
            rep["starts"] += 1
            rep.setdefault("control_events", []).append(m.type)
            self.paused = False
        else:
            rep["unknown_ignored"].append(m.type)

    def deliver(self, m, need_ack):
        """seq == expected (lock held)."""
        self.expected += 1
        if m.ptype == 5:
            self.trace("S>C", m)
            if need_ack:
                self.ack(m)
            req = json.loads(m.payload)
            self.report["handshake_request"] = req
            actions = []
            for act in req.get("RequestedClientActions", []):
                ok = act.get("ActionType") == "SessionType" and self.a.handshake_status == 1
                actions.append({"ActionType": act.get("ActionType"), "ActionStatus": self.a.handshake_status if
                                act.get("ActionType") == "SessionType" else 3,
                                "ActionResult": None, "Error": "" if ok else "unsupported"})
            if self.a.no_handshake_response:
                return
            resp = json.dumps({"ClientVersion": "1.2.0.0", "ProcessedClientActions": actions, "Errors": None},
                              separators=(",", ":")).encode()
            threading.Thread(target=self.send_stream, args=(6, resp), daemon=True).start()
        elif m.ptype == 7:
            self.trace("S>C", m)
            if need_ack:
                self.ack(m)
            self.report["handshake_complete"] = json.loads(m.payload)
            self.ready.set()
        elif m.ptype == 1:
            if self.received is not None:
                self.received += m.payload
            else:
                try:
                    os.write(1, m.payload)
                except OSError:
                    self.finish(0)
            self.rx_hash.update(m.payload)
            self.received_n += len(m.payload)
            if need_ack:
                self.ack(m)
            if self.a.trace_data:
                self.trace("S>C", m)
            with self.cond:
                self.cond.notify_all()
        else:
            if need_ack:
                self.ack(m)

    def finish(self, rc):
        if not self.done.is_set():
            self.report["exit"] = rc
            self.rc = rc
            self.done.set()
            with self.cond:
                self.cond.notify_all()

    def drain(self, timeout=2.0):
        end = time.time() + timeout
        with self.cond:
            while self.unacked and time.time() < end and not self.done.is_set():
                self.cond.wait(0.05)

    def terminate(self, flag=2):
        self.drain()
        self.send_stream(10, struct.pack(">I", flag))
        self.report["sent_flag"] = flag
        self.report["sent_terminate"] = flag == 2
        self.drain(1.0)

    def close_frame(self):
        with self.lock:
            ws = self.ws
        if ws:
            try:
                ws.send(8, struct.pack(">H", 1000))
                self.report["sent_close_frame"] = True
            except OSError:
                pass

    # --- main flow
    def run(self):
        a = self.a
        self.rc = 1
        params = {"Target": a.target, "DocumentName": "AWS-StartSSHSession", "Parameters": {"portNumber": [a.port]}}
        st, r = ssm_call(a.endpoint, "StartSession", params, self.creds, a.region)
        self.report["start_status"] = st
        if st != 200:
            self.report["start_error"] = r
            return 6
        self.sid, self.url = r["SessionId"], r["StreamUrl"]
        self.report["session_id"] = self.sid
        token = r["TokenValue"]
        if a.bad_token:
            token = "not-the-token"
        try:
            self.connect(self.url, token)
        except (WSClosed, OSError) as e:
            self.report["errors"].append(str(e))
            return 7
        threading.Thread(target=self.retransmitter, daemon=True).start()
        deadline = time.time() + a.timeout
        while not self.ready.wait(0.1):
            if self.done.is_set() or time.time() > deadline:
                self.report["errors"].append("no HandshakeComplete")
                return self.rc if self.done.is_set() else 8
        if a.unmasked_after_handshake:
            with self.lock:
                self.ws.masked = False
        if a.bad_header:
            f = bytearray(build("input_stream_data", self.out_seq, 0, 1, b"x"))
            f[0:4] = (100).to_bytes(4, "big")
            self.send_msg(bytes(f))
        if a.stdio:
            return self.run_stdio(deadline)
        if a.send_bytes is not None:
            return self.run_echo(deadline)
        self.done.wait(max(0.0, deadline - time.time()))
        return self.rc if self.done.is_set() else 9

    def run_echo(self, deadline):
        a = self.a
        rnd = random.Random(a.seed)
        n = a.send_bytes
        data = rnd.randbytes(n) if n else b""
        self.report["sent_sha256"] = hashlib.sha256(data).hexdigest()
        t0 = time.time()
        for off in range(0, n, a.chunk):
            self.send_stream(1, data[off:off + a.chunk])
            if self.done.is_set():
                break
        with self.cond:
            while self.received_n < n and not self.done.is_set() and time.time() < deadline:
                self.cond.wait(0.1)
        dt = time.time() - t0
        self.report["seconds"] = round(dt, 3)
        self.report["mib_per_s"] = round(n / dt / 1048576, 2) if dt > 0 else None
        self.report["received_bytes"] = self.received_n
        self.report["received_sha256"] = self.rx_hash.hexdigest()
        self.report["echo_ok"] = self.received_n == n and self.rx_hash.hexdigest() == self.report["sent_sha256"]
        if a.terminate or a.flag:
            self.terminate(a.flag or 2)
        if a.close_frame:
            self.close_frame()
        if a.wait_close:
            self.done.wait(max(0.0, deadline - time.time()))
        self.finish(0 if self.report["echo_ok"] else 10)
        return self.rc

    def run_stdio(self, deadline):
        def pump():
            while True:
                try:
                    d = os.read(0, self.a.chunk)
                except OSError:
                    d = b""
                if not d:
                    break
                self.send_stream(1, d)
                if self.done.is_set():
                    return
            self.terminate()
            self.close_frame()
            self.finish(0)
        threading.Thread(target=pump, daemon=True).start()
        self.done.wait()
        return self.rc


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "selftest":
        selftest()
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run"])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--port", default="22")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--key", help="AK:SK[:TOKEN] to sign StartSession/ResumeSession")
    ap.add_argument("--sign-ws", action="store_true", help="SigV4-sign the websocket upgrade (ssmmessages)")
    ap.add_argument("--report", help="write a JSON report here")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--send-bytes", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--window", type=int, default=4000)
    ap.add_argument("--stdio", action="store_true")
    ap.add_argument("--recv", action="store_true")
    ap.add_argument("--terminate", action="store_true", help="send the TerminateSession flag at the end")
    ap.add_argument("--flag", type=int, default=0, help="send this Flag value at the end (1 DisconnectToPort)")
    ap.add_argument("--close-frame", action="store_true", help="send a close frame at the end")
    ap.add_argument("--wait-close", action="store_true", help="after the echo, wait for channel_closed")
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--fragment", type=int, default=0, help="fragment messages into frames of N bytes")
    ap.add_argument("--ping-first", action="store_true", help="send a ping before OpenDataChannel")
    ap.add_argument("--max-frame", type=int, default=64 << 20)
    ap.add_argument("--handshake-status", type=int, default=1)
    ap.add_argument("--no-handshake-response", action="store_true")
    ap.add_argument("--bad-token", action="store_true")
    ap.add_argument("--bad-header", action="store_true")
    ap.add_argument("--unmasked-after-handshake", action="store_true")
    ap.add_argument("--data-before-complete", action="store_true")
    ap.add_argument("--trace-data", action="store_true")
    a = ap.parse_args()
    c = Client(a)
    written = threading.Lock()

    def write_report():
        if a.report and written.acquire(blocking=False):
            c.report.setdefault("exit", getattr(c, "rc", None))
            with open(a.report + ".tmp", "w") as f:
                json.dump(c.report, f, indent=1)
            os.replace(a.report + ".tmp", a.report)

    def on_signal(signum, frame):
        c.report["signal"] = signum
        write_report()
        os._exit(0 if signum == signal.SIGHUP else 1)

    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        rc = c.run()
    finally:
        c.done.set()
        write_report()
    return rc


if __name__ == "__main__":
    sys.exit(main())
