#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ from the spec's
examples and the project's test fixtures (re-run after editing; the
corpora are committed).  Usage: tests/fuzz/seeds.py"""
import hashlib, os, struct, subprocess, sys, tempfile, uuid, json

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- AWS INI ---------------------------------------------------------------
INI = {
    "config": "[default]\nregion = us-east-1\noutput = json\n\n"
              "[profile dev]\nregion: eu-west-2\nsource_profile = default\n"
              "role_arn = arn:aws:iam::123456789012:role/dev\n",
    "credentials": "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                   "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
                   "aws_session_token = IQoJb3JpZ2luX2VjEXAMPLE\n",
    "sso": "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\n"
           "sso_role_name = Dev\n[sso-session corp]\n"
           "sso_start_url = https://corp.awsapps.com/start\n"
           "sso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n",
    "services": "[profile local]\nservices = local-svc\nendpoint_url = http://127.0.0.1:5000\n"
                "[services local-svc]\nec2 =\n  endpoint_url = http://127.0.0.1:1\n"
                "ssm =\n  endpoint_url = http://127.0.0.1:2\n",
    "continued": "[DEFAULT]\nregion = x\n[a]\nk = first\n  second\n\n  third\n"
                 "# top\n; also\n  # indented comment\nj = x ; nor this\n",
    "crlf": "[profile  a ]\r\nk = v\r\n[profile \"a b\"]\r\nregion=eu-west-1\r\n",
    "process": "[profile p]\ncredential_process = /usr/bin/helper --arg \"two words\" 'x y'\n",
    "bad-dup": "[a]\nRegion=1\nregion=2\n",
    "bad-nokey": "[a]\nk = v\njunk line\n",
}
for k, v in INI.items():
    put("ini", k, v)
    put("drvini", "00" + k, b"\x00" + v.encode())
    put("drvini", "05" + k, b"\x05" + v.encode())
    put("drvini", "0a" + k, b"\x0a" + v.encode())

# --- shlex -----------------------------------------------------------------
for i, s in enumerate(["profile dev", "profile \"a b\"", "/bin/helper --x 'a b' \"c\\\"d\" e\\ f",
                       "a  b\tc", "'unclosed", "trailing\\", "\"\\\\\"", ""]):
    put("shlex", "s%d" % i, s)

# --- XML answers -----------------------------------------------------------
XML = {
    "sts": '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
           "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/cloudX-dev-alice</Arn>"
           "<UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
           "<ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>"
           "</ResponseMetadata></GetCallerIdentityResponse>",
    "ec2": '<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse '
           'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId>'
           "<reservationSet><item><instancesSet><item><instanceId>i-0123456789abcdef0</instanceId>"
           "<instanceState><code>16</code><name>running</name></instanceState>"
           "<tagSet><item><key>Name</key><value>cloudX-dev-box | x</value></item></tagSet>"
           "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>",
    "error-query": "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                   "<Message>User is not authorized</Message></Error>"
                   "<RequestId>abc</RequestId></ErrorResponse>",
    "error-ec2": "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>"
                 "<Message>The instance ID 'i-1' does not exist</Message></Error></Errors>"
                 "<RequestID>def</RequestID></Response>",
    "assume": "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
              "<AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
              "<SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>"
              "</Credentials></AssumeRoleResult></AssumeRoleResponse>",
    "entity": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
    "cdata": "<a:b xmlns:a='u'><![CDATA[x<y]]>&amp;&#x41;<c/></a:b>",
}
for k, v in XML.items():
    put("xml", k, v)
    put("awserr", "x-" + k, b"\x00\x00" + v.encode())
JSONERR = {
    "json-type": '{"__type":"com.amazon.coral.service#ThrottlingException","message":"Rate exceeded"}',
    "json-code": '{"code":"aws.protocoltests#FooError:http://x","Message":"m\\nx"}',
    "json-sig": '{"__type":"InvalidSignatureException","message":"The request signature '
                'we calculated does not match.\\n\\nThe Canonical String for this request should have been\\n'
                'x-amz-security-token:SECRET"}',
    "html": "<html><body><h1>500 Internal Server Error</h1></body></html>",
}
for k, v in JSONERR.items():
    put("awserr", k, b"\x00\x64" + v.encode())
put("awserr", "header", b"\x19\x03AWS.SimpleQueueService.Foo;Sender<ErrorResponse/>")

# --- SSM data channel messages ---------------------------------------------
def ssm_frame(mtype, seq, flags, ptype, payload, created=1700000000000, mid=None, hl=116):
    mid = mid or uuid.UUID("dd01e56b-ff1e-4a4d-9e2b-0123456789ab").bytes
    mid = mid[8:] + mid[:8]
    digest = hashlib.sha256(payload).digest()
    h = struct.pack(">I", hl) + mtype.encode().ljust(32, b" ") + struct.pack(">I", 1)
    h += struct.pack(">QqQ", created, seq, flags) + mid + digest
    if hl >= 116:
        h += struct.pack(">I", ptype)
    return h + struct.pack(">I", len(payload)) + payload

HS = json.dumps({"AgentVersion": "3.3.0.0", "RequestedClientActions": [
    {"ActionType": "SessionType", "ActionParameters": {"SessionType": "Port",
     "Properties": {"portNumber": "22"}}},
    {"ActionType": "KMSEncryption", "ActionParameters": {"KMSKeyId": "k"}}]}).encode()
ACK = json.dumps({"AcknowledgedMessageType": "input_stream_data",
                  "AcknowledgedMessageId": "dd01e56b-ff1e-4a4d-9e2b-0123456789ab",
                  "AcknowledgedMessageSequenceNumber": 3, "IsSequentialMessage": True}).encode()
FRAMES = {
    "output": ssm_frame("output_stream_data", 0, 0, 1, b"SSH-2.0-OpenSSH_9.2\r\n"),
    "handshake": ssm_frame("output_stream_data", 0, 0, 5, HS),
    "complete": ssm_frame("output_stream_data", 1, 0, 7, b'{"HandshakeTimeToComplete":1,"CustomerMessage":"hi"}'),
    "ack": ssm_frame("acknowledge", 0, 3, 0, ACK),
    "closed": ssm_frame("channel_closed", 0, 0, 0, b'{"Output":"Session timed out.","SessionId":"s"}', hl=112),
    "pause": ssm_frame("pause_publication", 0, 0, 0, b""),
    "flag": ssm_frame("input_stream_data", 7, 0, 10, struct.pack(">I", 2)),
}
for k, v in FRAMES.items():
    put("ssmmsg", "f-" + k, v)
for k, v in {"hs": HS, "ack": ACK, "closed": b'{"Output":"bye"}'}.items():
    put("ssmmsg", "j-" + k, v)

def rec(kind, seq, pt, payload=b""):
    return bytes([kind, seq, pt, len(payload)]) + payload
put("datachan", "session",
    rec(2, 0, 0) + rec(2, 1, 1) + rec(6, 0, 0, b"hello") + rec(7, 0, 4) +
    rec(1, 2, 1, b"SSH-2.0-x\r\n") + rec(0, 0, 0) + rec(1, 4, 1, b"late") +
    rec(1, 3, 1, b"early") + rec(8, 0, 0) + rec(8, 0, 1) + rec(7, 0, 4) +
    rec(8, 0, 2) + rec(0, 1, 0) + rec(0, 2, 0) + rec(3, 0, 0, b'{"Output":"x"}'))
put("datachan", "pause", rec(2, 0, 0) + rec(2, 1, 1) + rec(4, 0, 0) + rec(6, 0, 0, b"x" * 40) +
    rec(7, 0, 7) + rec(4, 0, 1) + rec(7, 0, 7) + rec(5, 0, 0, FRAMES["output"][:60]))
put("datachan", "reorder", rec(2, 0, 0) + b"".join(rec(1, s, 1, b"d%d" % s) for s in [5, 4, 3, 2, 1, 9, 12, 15, 14, 13, 12, 11, 10, 8, 7, 6]))

# --- websocket -------------------------------------------------------------
def wsf(op, payload, fin=True):
    n = len(payload)
    h = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        h += bytes([n])
    elif n <= 0xFFFF:
        h += bytes([126]) + struct.pack(">H", n)
    else:
        h += bytes([127]) + struct.pack(">Q", n)
    return h + payload
frames = wsf(2, FRAMES["output"]) + wsf(9, b"ping") + wsf(1, b"frag", False) + \
    wsf(0, b"ment", False) + wsf(0, b"ed") + wsf(2, b"x" * 300) + wsf(8, b"\x03\xe8bye")
put("ws", "upgrade-ok", b"\x00\x05" + b"\r\n" + frames)
put("ws", "upgrade-raw", b"\x01\x85" + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
put("ws", "refused", b"\x01\x85HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
put("ws", "open-frames", b"\x02\x07" + frames)
put("ws", "open-big", b"\x82\x85" + wsf(2, b"y" * 5000))
put("ws", "open-len64", b"\x02\x85" + bytes([0x82, 127]) + struct.pack(">Q", 1 << 62))

# --- URLs ------------------------------------------------------------------
for i, u in enumerate([
        "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/user-0123456789abcdef0?role=publish_subscribe",
        "ws://127.0.0.1:8443/v1/data-channel/s-1?role=publish_subscribe&cell-number=AAA",
        "https://ssm.eu-west-1.amazonaws.com", "http://[::1]:5000/path?q#frag",
        "wss://h", "wss://user@h/", "ftp://x", "http://h:99999/"]):
    put("url", "u%d" % i, u)

# --- ssh_config ------------------------------------------------------------
SSHCONF = {
    "tiers": "# Managed by cloudx-proxy\n\nHost cloudx-*\n    User ec2-user\n    TCPKeepAlive yes\n"
             "    IdentitiesOnly yes\n    ControlMaster auto\n    ControlPath ~/.ssh/control/%r@%h:%p\n"
             "    ControlPersist 4h\n\n###########\n# Environment: dev\n###########\n"
             "Host cloudx-dev-*\n    IdentityFile /home/u/.ssh/cloudX/cloudX\n"
             "    ProxyCommand /usr/bin/cloudx-proxy connect %h %p --region eu-west-1\n\n"
             "Host cloudx-dev-box # my box\n    HostName i-0123456789abcdef0\n",
    "foreign": "Include ~/.ssh/other\nHost github.com\n  User git\nMatch host x exec \"true\"\n"
               "  ForwardAgent no\nHost=cloudx-dev-a\n\tHostName=i-01234567\nHost *\n  ServerAliveInterval 30\n",
    "python": "Host cloudx-*\n    User ec2-user\nHost cloudx-dev-*\n    ProxyCommand uvx cloudx-proxy connect %h %p "
              "--profile dev --ssh-key k\nHost cloudx-dev-x\n    HostName i-0123456789abcdef0",
    "crlf": "Host cloudx-*\r\n    User ec2-user\r\nHost cloudx-dev-*\r\n    IdentityFile \"/home/u/my keys/k\"\r\n",
    "onepw": "Host cloudx-dev-*\n    IdentityAgent ~/.1password/agent.sock\n    IdentityFile ~/.ssh/cloudX/k.pub\n",
}
for k, v in SSHCONF.items():
    for op in (0, 1, 8, 16, 24, 32, 40):
        put("sshconf", "%s-%d" % (k, op), bytes([op]) + v.encode())

# --- ssh public keys (generated once with ssh-keygen) -----------------------
with tempfile.TemporaryDirectory() as td:
    for t, extra in () if os.path.exists(os.path.join(ROOT, "sshkey", "rsa.pub")) else \
            (("ed25519", []), ("rsa", ["-b", "2048"]), ("ecdsa", [])):
        p = os.path.join(td, t)
        subprocess.run(["ssh-keygen", "-q", "-t", t, "-N", "", "-C", "fuzz@" + t, "-f", p] + extra,
                       check=True)
        pub = open(p + ".pub", "rb").read()
        put("sshkey", t + ".pub", pub)
        import base64
        put("sshkey", t + ".blob", base64.b64decode(pub.split()[1]))
    put("sshkey", "private", b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n"
        b"-----END OPENSSH PRIVATE KEY-----\n")
    put("sshkey", "comments", b"# c\n\nssh-ed25519 AAAA x\n")

# --- VS Code settings.json ---------------------------------------------------
VS = {
    "empty": "",
    "plain": '{\n    "editor.fontSize": 14\n}\n',
    "jsonc": '// settings\n{\n  /* block */ "remote.SSH.connectTimeout": 30, // short\n'
             '  "remote.SSH.remotePlatform": { "other": "linux", },\n'
             '  "remote.SSH.configFile": "/x",\n}\n',
    "ours": '{\n    "remote.SSH.configFile": "/home/u/.ssh/cloudX/config",\n'
            '    "remote.SSH.connectTimeout": 90,\n    "remote.SSH.serverInstallTimeout": 120,\n'
            '    "remote.SSH.showLoginTerminal": true,\n'
            '    "remote.SSH.remotePlatform": {\n        "cloudx-*": "linux"\n    }\n}\n',
    "array": "[1,2]",
    "strings": '{"a\\"b": "c\\\\", "u": "\\u00e9", "n": null, "x": [true, false, 1e5]}',
}
for k, v in VS.items():
    put("vscode", k, v)

# --- stage JSON: kept as it is ------------------------------------------------
print("seed corpora written under", ROOT)

# --- credential_process output / cached credentials --------------------------
CREDS = {
    "process": '{"Version": 1, "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "c2VjcmV0", '
               '"SessionToken": "IQoJb3JpZ2luEXAMPLE", "Expiration": "2030-01-02T03:04:05Z"}',
    "longterm": '{"Version": 1, "AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "s"}',
    "frac": '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s", "SessionToken": null, '
            '"Expiration": "2030-01-02T03:04:05.123+00:00", "AccountId": "123456789012"}',
    "badver": '{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "s"}',
    "badexp": '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s", "Expiration": "soon"}',
    "time": "2025-01-02T03:04:05Z",
}
for k, v in CREDS.items():
    put("creds", k, v)

# --- proxy: first byte picks the part (0 answer, 1 proxy URL + CONNECT,
# 2 NO_PROXY list NUL host, 3 target URL) ---------------------------------
PROXY = {
    "ans-200": b"\x00HTTP/1.1 200 Connection established\r\n\r\n",
    "ans-200-tls": b"\x00HTTP/1.0 200 OK\r\nVia: 1.1 squid\r\n\r\n\x16\x03\x01\x00",
    "ans-407": b"\x00HTTP/1.1 407 Proxy Authentication Required\r\n"
               b"Proxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n",
    "ans-lf": b"\x00HTTP/1.1 403 Forbidden\nX: y\n\n",
    "ans-part": b"\x00HTTP/1.1 200 OK\r\nX: y\r\n",
    "ans-bad": b"\x00SSH-2.0-OpenSSH_9.2\r\n",
    "url-plain": b"\x01http://proxy.corp:3128",
    "url-auth": b"\x01http://al%69ce:p%40ss:w@[::1]:8080/",
    "url-noscheme": b"\x01proxy:1",
    "url-socks": b"\x01socks5h://u:p@h",
    "np-list": b"\x02localhost, .example.com,127.0.0.1:80,[::1]\x00a.example.com",
    "np-star": b"\x02*\x00h",
    "np-ip": b"\x020.0.1\x00127.0.0.1",
    "target-v6": b"\x03wss://[2001:db8::1]:8443/v1/data-channel/s?x",
    "target": b"\x03https://ssmmessages.eu-west-1.amazonaws.com/",
}
for k, v in PROXY.items():
    put("proxy", k, v)
