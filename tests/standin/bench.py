#!/usr/bin/env python3
"""Throughput of the stand-in's data channel alone, with a lean client (pre-built frames, no
retransmission) and an in-process TCP target, so that the stand-in is the bottleneck.

  bench.py --endpoint URL --target i-... --mode upload|download --bytes N [--pid STANDIN_PID]

The stand-in must relay the instance to --sink/--source (default: this script starts a
sink/source itself and sets the target through the control API).  Prints one JSON line:
{"mode", "bytes", "seconds", "mib_per_s", "standin_cpu_s"}.
"""
import argparse
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsclient as W  # noqa: E402


def cpu_seconds(pid):
    if not pid:
        return None
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def control(endpoint, path, body):
    req = urllib.request.Request(endpoint.rstrip("/") + path, data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--mode", choices=["upload", "download"], required=True)
    ap.add_argument("--bytes", type=int, default=64 << 20)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--window", type=int, default=4000)
    a = ap.parse_args()
    n_total = a.bytes

    # target: sink (upload) or source (download)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = [0]
    done = threading.Event()

    def target():
        c, _ = srv.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        if a.mode == "upload":
            while got[0] < n_total:
                d = c.recv(1 << 20)
                if not d:
                    break
                got[0] += len(d)
            done.set()
        else:
            blk = os.urandom(1 << 20)
            left = n_total
            while left > 0:
                c.sendall(blk[:min(left, len(blk))])
                left -= min(left, len(blk))
        time.sleep(0.5)
        c.close()
    threading.Thread(target=target, daemon=True).start()
    control(a.endpoint, "/standin/config",
            {"targets": {a.target: "127.0.0.1:%d" % srv.getsockname()[1]}, "pace_ms": 0})

    st, r = W.ssm_call(a.endpoint, "StartSession", {"Target": a.target, "DocumentName": "AWS-StartSSHSession",
                                                     "Parameters": {"portNumber": ["22"]}}, None, "us-east-1")
    assert st == 200, r
    ws = W.WS(r["StreamUrl"])
    ws.send(1, json.dumps({"MessageSchemaVersion": "1.0", "RequestId": "r", "TokenValue": r["TokenValue"],
                           "ClientId": "c", "ClientVersion": "1.2.0.0"}).encode())

    def ack_for(m):
        p = ('{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"%s",'
             '"AcknowledgedMessageSequenceNumber":%d,"IsSequentialMessage":true}' % (m.mid, m.seq)).encode()
        return W.build("acknowledge", 0, 3, 0, p)

    # handshake
    expected = 0
    while True:
        op, pl = ws.recv()
        if op != 2:
            continue
        m = W.parse(pl)
        if m.type != "output_stream_data":
            continue
        ws.send(2, ack_for(m))
        expected = m.seq + 1
        if m.ptype == 5:
            resp = json.dumps({"ClientVersion": "1.2.0.0", "ProcessedClientActions": [
                {"ActionType": "SessionType", "ActionStatus": 1, "ActionResult": None, "Error": ""}],
                "Errors": None}).encode()
            ws.send(2, W.build("input_stream_data", 0, 0, 6, resp))
        elif m.ptype == 7:
            break
    # the agent side dials the target only after HandshakeComplete and drops (unacked) data until
    # then; this lean client does not retransmit, so give the dial a moment
    time.sleep(0.2)
    cpu0 = cpu_seconds(a.pid)
    t0 = time.time()
    if a.mode == "upload":
        acked = [0]

        def reader():
            while not done.is_set():
                try:
                    op, pl = ws.recv()
                except (W.WSClosed, OSError):
                    return
                if op == 2 and pl[4:15] == b"acknowledge":
                    acked[0] += 1
        threading.Thread(target=reader, daemon=True).start()
        payload = os.urandom(1024)
        digest = hashlib.sha256(payload).digest()
        mid = bytes(16)
        seq = 1
        sent = 0
        hdr126 = bytes((0x82, 0x80 | 126)) + (1144).to_bytes(2, "big") + b"\0\0\0\0"   # zero mask
        while sent < n_total:
            batch = []
            for _ in range(256):
                if sent >= n_total:
                    break
                msg = struct.pack(">I32sIQqQ16s32sII", 116, b"input_stream_data".ljust(32), 1, 1, seq, 0,
                                  mid, digest, 1, 1024) + payload
                batch.append(hdr126 + msg)
                seq += 1
                sent += 1024
            while seq - 1 - acked[0] > a.window:
                time.sleep(0.001)
            ws.send_raw(b"".join(batch))
        done.wait(300)
    else:
        rx = 0
        pending = []
        while rx < n_total:
            op, pl = ws.recv()
            if op != 2:
                continue
            m = W.parse(pl)
            if m.type != "output_stream_data":
                continue
            if m.seq == expected:
                expected += 1
                rx += len(m.payload)
            pending.append(ack_for(m))
            if len(pending) >= 32 or rx >= n_total:
                ws.send_raw(b"".join(ws.encode(2, x) for x in pending))
                pending = []
    dt = time.time() - t0
    cpu1 = cpu_seconds(a.pid)
    print(json.dumps({"mode": a.mode, "bytes": n_total, "seconds": round(dt, 3),
                      "mib_per_s": round(n_total / dt / 1048576, 1),
                      "standin_cpu_s": round(cpu1 - cpu0, 2) if cpu0 is not None else None}))
    ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
