#!/usr/bin/env python3
"""cloudx-proxy AWS stand-in: SSM (JSON 1.1), EC2 Instance Connect, the SSO portal and
SSO-OIDC token refresh, plus the SSM data-channel websocket (MGS + SSM agent side), all on
one loopback port.  Python standard library only.

Written from docs/ssm-data-channel.md, docs/aws-creds-and-wire.md and docs/moto-notes.md,
independently of the C client.  See docs/standin.md for the config keys and control API.
"""

import argparse
import base64
import collections
import copy
import datetime
import hashlib
import hmac
import http.server
import json
import logging
import os
import queue
import random
import re
import secrets
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
import xml.etree.ElementTree as ET

log = logging.getLogger("standin")

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

DEFAULT_CONFIG = {
    # --- general / HTTP APIs
    "region": "us-east-1",            # used when a request carries no SigV4 scope
    "moto_url": None,                 # moto_server base URL (instance state comes from its EC2)
    "moto_key": "testing:testing",    # AK:SK used to sign the DescribeInstances calls to moto
    "static_instances": {},           # {"i-..": {"state": "running", "availability_zone": "..",
                                      #   "region": "..", "private_ip": ".."}} overrides moto
    "online_delay": 0.0,              # s after first seen running before PingStatus Online
    "ping_status": {},                # {"i-..": "ConnectionLost"} forced PingStatus override
    "deny_actions": [],               # ["ssm:StartSession", "ec2-instance-connect:SendSSHPublicKey", ...]
    "throttle_next": 0,               # next N API calls -> 400 ThrottlingException
    "fail_next": 0,                   # next N API calls -> 500 InternalServerError
    "hang_next": 0,                   # next N API calls hang (up to hang_max_s), then drop the TCP connection
    "hang_max_s": 30.0,
    "fault_actions": [],              # restrict the *_next counters to these actions (empty = all)
    "hold_actions": [],               # these API calls wait, once arrived, for POST /standin/release
    "hold_max_s": 30.0,               #   (or this long: then answered as usual, "held": "timeout")
    "require_sigv4": False,           # SSM/EIC calls must carry a (valid, if keys known) SigV4 header
    "require_ws_sigv4": False,        # websocket upgrade must be SigV4 signed (service ssmmessages)
    "keys": {},                       # {"AKID": "secret"} or {"AKID": {"secret": .., "token": ..}}
    # --- SSM sessions
    "target": "127.0.0.1:22",         # default TCP target of session tunnels
    "stream_url_host": None,          # "HOST:PORT" of the StreamUrl (a proxy in front); None: ours
    "targets": {},                    # {"i-..": "127.0.0.1:NNNN"} per instance
    "target_not_connected": 0,        # next N StartSession -> TargetNotConnected
    "allowed_documents": ["AWS-StartSSHSession"],
    "resume_new_url": False,          # ResumeSession returns a new StreamUrl (&cell-number=N)
    "resume_omit_nulls": False,       # ended session: omit TokenValue/StreamUrl instead of null
    "session_id_prefix": "standin",
    "token_prefix": "",               # TokenValue = this prefix + random (a canary for secret audits)
    # --- EC2 Instance Connect
    "key_ttl": 60.0,                  # s a pushed key stays valid
    "sshd_instance": None,            # instance id used by /standin/keys when none is given
    # --- SSO portal / OIDC
    "sso_tokens": {},                 # {"tok": {"accounts": {"111122223333": ["Admin"]}, "expires": epoch_s}}
    "sso_credentials": {},            # {"ACCOUNT/ROLE" or "*": {"accessKeyId",..,"expiration": ms}}
    "sso_credentials_ttl": 3600,      # s, for minted credentials
    "sso_refresh_tokens": {},         # {"rt": {"client_id": .., "client_secret": .., "token": "<sso token to copy grants from>"}}
    "sso_access_token_ttl": 3600,
    "sso_rotate_refresh_token": True,
    # SSO OIDC login (RegisterClient, StartDeviceAuthorization, /authorize, CreateToken)
    "oidc_grants": {"111122223333": ["Admin"]},   # what a token minted by a login may use
    "oidc_authorize": "approve",      # the /authorize answer: "approve" (code) or "deny" (error=access_denied)
    "oidc_registration_ttl": 90 * 86400,  # s, clientSecretExpiresAt
    "oidc_device_interval": 1,        # s, the device flow's polling interval
    "oidc_device_expires_in": 600,    # s, the device code's life
    "oidc_slow_down_next": 0,         # next N device polls -> slow_down (interval += 5 s)
    "oidc_code_ttl": 300,             # s, an authorization code's life
    # --- data channel (agent + MGS)
    "agent_version": "3.3.987.0",
    "session_type": "Port",
    "extra_handshake_actions": [],    # extra RequestedClientActions (e.g. KMSEncryption) for client tests
    "customer_message": "",
    "handshake_timeout": 15.0,
    "chunk_size": 1024,
    "read_size": 262144,
    "pace_ms": 1.0,
    "out_window": 10000,              # max unacked agent messages before we stop reading the target
    "drain_timeout": 2.0,             # wait for acks after target EOF before channel_closed
    "resume_wait": 10.0,              # after target EOF with no websocket: wait this long for a resume
    "max_ws_message": 16 * 1024 * 1024,
    "drop_after_bytes": 0,            # close the websocket abruptly once after N bytes relayed (in+out)
    "duplicate_every": 0,
    "reorder_every": 0,
    "corrupt_digest_every": 0,
    "withhold_acks_ms": 0,
    "pause_after_bytes": 0,
    "pause_ms": 0,
    "channel_closed_hl112": False,
    "unknown_message_every": 0,
    "unknown_message_type": "future_message_type",
    "giant_frame": False,             # true or an announced length: one absurd frame after HandshakeComplete
    "close_with_error": "",
    "stop_acking_after_bytes": 0,
    "stop_acking_once": False,        # the silence lasts only until the client reconnects
    # per-instance / per-session overrides of any data-channel key
    "instances": {},                  # {"i-..": {"pace_ms": 0, ...}}
    "sessions": {},                   # {"<session id>": {...}}
}

COUNTER_KEYS = ("throttle_next", "fail_next", "hang_next", "target_not_connected", "oidc_slow_down_next")


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch: dicts merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            target[k] = merge_patch(target[k], v)
        else:
            target[k] = copy.deepcopy(v)
    return target


class Config:
    def __init__(self, initial):
        self.lock = threading.RLock()
        self.initial = copy.deepcopy(initial)
        self.data = copy.deepcopy(initial)
        self.version = 0            # bumped on every change (sessions cache lookups per version)

    def reset(self):
        with self.lock:
            self.data = copy.deepcopy(self.initial)
            self.version += 1

    def patch(self, p):
        with self.lock:
            self.version += 1
            self.data = merge_patch(self.data, p)
            # restore defaults for deleted top-level keys
            for k, v in DEFAULT_CONFIG.items():
                if k not in self.data:
                    self.data[k] = copy.deepcopy(v)
            return copy.deepcopy(self.data)

    def snapshot(self):
        with self.lock:
            return copy.deepcopy(self.data)

    def get(self, key, instance=None, session=None):
        with self.lock:
            if session is not None:
                s = self.data.get("sessions", {}).get(session)
                if isinstance(s, dict) and key in s:
                    return s[key]
            if instance is not None:
                s = self.data.get("instances", {}).get(instance)
                if isinstance(s, dict) and key in s:
                    return s[key]
            return self.data.get(key, DEFAULT_CONFIG.get(key))

    def take(self, key, action=None):
        """Decrement a fault counter if > 0 (and if action is selected); True when taken."""
        with self.lock:
            n = self.data.get(key) or 0
            if n <= 0:
                return False
            sel = self.data.get("fault_actions") or []
            if action is not None and sel and action not in sel:
                return False
            self.data[key] = n - 1
            self.version += 1
            return True


CFG = None          # the Config
STATE = None        # the State (below)
SERVER = None       # the HTTP server
STOPPING = threading.Event()


def now_ms():
    return int(time.time() * 1000)


def new_request_id():
    return str(uuid.uuid4())


# ---------------------------------------------------------------------------------------------
# SigV4 (verification of incoming requests, signing of our calls to moto)
# ---------------------------------------------------------------------------------------------

_UNRESERVED = "-_.~"


def _uri_encode(s, safe=_UNRESERVED):
    return urllib.parse.quote(s, safe=safe)


def _normalize_path(path):
    segs = []
    for s in path.split("/"):
        if s in ("", "."):
            continue
        if s == "..":
            if segs:
                segs.pop()
            continue
        segs.append(s)
    out = "/" + "/".join(segs)
    if path.endswith("/") and segs:
        out += "/"
    return out


def canonical_uri(raw_path, normalize=True):
    p = _normalize_path(raw_path) if normalize else raw_path
    # non-S3 rule: each segment of the (already once-encoded) path is encoded again
    return "/".join(_uri_encode(seg) for seg in p.split("/")) or "/"


def canonical_query(raw_query):
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        if part == "":
            continue
        k, _, v = part.partition("=")
        k = urllib.parse.unquote(k)
        v = urllib.parse.unquote(v)
        pairs.append((_uri_encode(k), _uri_encode(v)))
    pairs.sort()
    return "&".join("%s=%s" % kv for kv in pairs)


def _trim(v):
    return " ".join(v.strip().split())


def canonical_request(method, raw_path, raw_query, headers, signed, payload_hash):
    """headers: list of (name, value); signed: list of lower-case names."""
    byname = collections.OrderedDict()
    for n, v in headers:
        byname.setdefault(n.lower(), []).append(_trim(v))
    lines = [method, canonical_uri(raw_path), canonical_query(raw_query)]
    hdr = "".join("%s:%s\n" % (n, ",".join(byname.get(n, []))) for n in signed)
    return "\n".join(lines + [hdr, ";".join(signed), payload_hash])


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def string_to_sign(amz_date, scope, creq):
    return "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                      hashlib.sha256(creq.encode("utf-8")).hexdigest()])


_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.S)


def parse_authorization(value):
    """-> dict(access_key, date, region, service, scope, signed_headers, signature) or None."""
    if not value:
        return None
    m = _AUTH_RE.match(value.strip())
    if not m:
        return None
    parts = {}
    for item in m.group(1).split(","):
        k, _, v = item.strip().partition("=")
        parts[k.strip()] = v.strip()
    cred = parts.get("Credential", "")
    cp = cred.split("/")
    if len(cp) != 5 or cp[4] != "aws4_request" or "SignedHeaders" not in parts or "Signature" not in parts:
        return None
    return {
        "access_key": cp[0], "date": cp[1], "region": cp[2], "service": cp[3],
        "scope": "/".join(cp[1:]),
        "signed_headers": parts["SignedHeaders"].split(";"),
        "signature": parts["Signature"],
    }


def sign_request(method, url, headers, body, access_key, secret, region, service, token=None,
                 amz_date=None):
    """Add SigV4 headers (x-amz-date, authorization[, x-amz-security-token]) to `headers` (dict)."""
    u = urllib.parse.urlsplit(url)
    amz_date = amz_date or datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    headers = dict(headers)
    headers["Host"] = u.netloc
    headers["X-Amz-Date"] = amz_date
    if token:
        headers["X-Amz-Security-Token"] = token
    signed = sorted(h.lower() for h in headers)
    payload_hash = hashlib.sha256(body or b"").hexdigest()
    creq = canonical_request(method, u.path or "/", u.query, list(headers.items()), signed, payload_hash)
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = string_to_sign(amz_date, scope, creq)
    sig = hmac.new(signing_key(secret, amz_date[:8], region, service), sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, ";".join(signed), sig)
    return headers


class AuthError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def known_keys():
    """{akid: (secret, token or None)} from config keys and minted SSO credentials."""
    out = {}
    for ak, v in (CFG.get("keys") or {}).items():
        if isinstance(v, dict):
            out[ak] = (v.get("secret", ""), v.get("token"))
        else:
            out[ak] = (str(v), None)
    with STATE.lock:
        for ak, v in STATE.minted_keys.items():
            out[ak] = v
    return out


def verify_sigv4(method, raw_path, raw_query, header_items, body, expected_service=None):
    """Raise AuthError when the request is not properly signed.  Returns the parsed auth."""
    hdrs = {}
    for n, v in header_items:
        hdrs.setdefault(n.lower(), v)
    authz = hdrs.get("authorization")
    if not authz:
        raise AuthError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    a = parse_authorization(authz)
    if a is None:
        raise AuthError(403, "IncompleteSignatureException",
                        "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters")
    amz_date = hdrs.get("x-amz-date")
    if not amz_date or not amz_date.startswith(a["date"]):
        raise AuthError(403, "IncompleteSignatureException", "X-Amz-Date missing or not matching the credential scope date")
    if "host" not in a["signed_headers"]:
        raise AuthError(403, "InvalidSignatureException", "'Host' must be a signed header")
    if expected_service and a["service"] != expected_service:
        raise AuthError(403, "InvalidSignatureException",
                        "Credential should be scoped to correct service: '%s'." % expected_service)
    keys = known_keys()
    if not keys:
        return a          # nothing to verify against: presence and shape only
    if a["access_key"] not in keys:
        raise AuthError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    secret, token = keys[a["access_key"]]
    if token and hdrs.get("x-amz-security-token") != token:
        raise AuthError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    payload_hash = hdrs.get("x-amz-content-sha256") or hashlib.sha256(body or b"").hexdigest()
    creq = canonical_request(method, raw_path, raw_query, header_items, a["signed_headers"], payload_hash)
    sts = string_to_sign(amz_date, a["scope"], creq)
    want = hmac.new(signing_key(secret, a["date"], a["region"], a["service"]), sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, a["signature"]):
        log.info("sigv4 mismatch; canonical request was:\n%s", creq)
        raise AuthError(403, "InvalidSignatureException",
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your AWS Secret Access Key and signing method.")
    return a


# ---------------------------------------------------------------------------------------------
# Instances (moto's EC2, or static_instances)
# ---------------------------------------------------------------------------------------------

def _xml_local(tag):
    return tag.rsplit("}", 1)[-1]


def _child(el, name):
    for c in el:
        if _xml_local(c.tag) == name:
            return c
    return None


def _child_text(el, *path):
    for p in path:
        if el is None:
            return None
        el = _child(el, p)
    return el.text if el is not None else None


class MotoError(Exception):
    pass


def moto_instances(region):
    """All instances of moto's `region` backend: {id: {...}}."""
    url = CFG.get("moto_url")
    if not url:
        return {}
    ak, _, sk = (CFG.get("moto_key") or "testing:testing").partition(":")
    out = {}
    token = None
    for _ in range(100):
        params = {"Action": "DescribeInstances", "Version": "2016-11-15"}
        if token:
            params["NextToken"] = token
        body = urllib.parse.urlencode(params).encode()
        endpoint = url.rstrip("/") + "/"
        headers = sign_request("POST", endpoint,
                               {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                               body, ak, sk, region, "ec2")
        req = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                xml = r.read()
        except urllib.error.HTTPError as e:
            raise MotoError("moto DescribeInstances: HTTP %s %s" % (e.code, e.read()[:300]))
        except OSError as e:
            raise MotoError("moto DescribeInstances: %s" % e)
        root = ET.fromstring(xml)
        for el in root.iter():
            if _xml_local(el.tag) != "instancesSet":
                continue
            for it in el:
                iid = _child_text(it, "instanceId")
                if not iid:
                    continue
                out[iid] = {
                    "state": _child_text(it, "instanceState", "name") or "unknown",
                    "availability_zone": _child_text(it, "placement", "availabilityZone"),
                    "private_ip": _child_text(it, "privateIpAddress"),
                    "private_dns": _child_text(it, "privateDnsName"),
                    "platform": _child_text(it, "platform"),
                    "region": region,
                }
        token = None
        for el in root:
            if _xml_local(el.tag) == "nextToken" and el.text:
                token = el.text
        if not token:
            break
    return out


def _static_instances(region):
    out = {}
    for iid, v in (CFG.get("static_instances") or {}).items():
        v = dict(v)
        if v.get("region", region) != region:
            continue
        v.setdefault("state", "running")
        v.setdefault("availability_zone", region + "a")
        v.setdefault("private_ip", "10.0.0.10")
        v.setdefault("private_dns", "ip-10-0-0-10.ec2.internal")
        v["region"] = region
        out[iid] = v
    return out


def _observe(region, inst):
    now = time.time()
    with STATE.lock:
        for iid, v in inst.items():
            obs = STATE.observed.setdefault((region, iid), {"first_running": None, "ever_online": False})
            if v["state"] == "running":
                if obs["first_running"] is None:
                    obs["first_running"] = now
            else:
                obs["first_running"] = None


def all_instances(region):
    """Every instance of `region`: moto's (if configured) overridden by static_instances."""
    inst = moto_instances(region)
    inst.update(_static_instances(region))
    _observe(region, inst)
    return inst


def get_instance(region, iid):
    """One instance (None if unknown); static_instances first, so moto is not asked for them."""
    st = _static_instances(region)
    if iid in st:
        _observe(region, {iid: st[iid]})
        return st[iid]
    return all_instances(region).get(iid)


def ping_status(region, iid, info):
    """PingStatus for an instance (None = not registered with SSM)."""
    forced = (CFG.get("ping_status") or {}).get(iid)
    with STATE.lock:
        obs = STATE.observed.get((region, iid), {"first_running": None, "ever_online": False})
        online = (info is not None and info["state"] == "running" and obs["first_running"] is not None
                  and time.time() - obs["first_running"] >= float(CFG.get("online_delay") or 0))
        if online:
            obs["ever_online"] = True
        ever = obs["ever_online"]
    if forced:
        return forced
    if online:
        return "Online"
    if info is None or info["state"] == "terminated":
        return None
    return "ConnectionLost" if ever else None


# ---------------------------------------------------------------------------------------------
# Global state
# ---------------------------------------------------------------------------------------------

class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            old = getattr(self, "sessions", {})
            self.sessions = {}          # id -> Session
            self.tokens = {}            # token -> (session id, kind)
            self.keys = {}              # (instance, user) -> [{"key":..,"expires":..}]
            self.observed = {}          # (region, iid) -> {first_running, ever_online}
            self.minted_keys = {}       # akid -> (secret, token)
            self.sso_access = {}        # minted SSO access tokens -> grants
            self.oidc_clients = {}      # clientId -> {"secret", "grantTypes", "redirectUris", "expires"}
            self.oidc_codes = {}        # auth code -> {"client", "redirect", "challenge", "expires"}
            self.oidc_devices = {}      # deviceCode -> {"client", "userCode", "status", "expires", "interval", "last"}
            self.oidc_calls = collections.Counter()   # "RegisterClient" -> n, ...
            self.log = collections.deque(maxlen=20000)
            self.log_seq = 0
            self.counters = collections.Counter()
            self.hang_event = threading.Event()
            self.held = []              # actions waiting for /standin/release, in arrival order
            self.release_event = threading.Event()
        return list(old.values())

    def record(self, entry):
        with self.lock:
            self.log_seq += 1
            entry["n"] = self.log_seq
            entry.setdefault("time", round(time.time(), 3))
            self.log.append(entry)


# ---------------------------------------------------------------------------------------------
# HTTP API helpers
# ---------------------------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, status, code, message, extra=None):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}


INSTANCE_ID_RE = re.compile(r"^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
MI_ID_RE = re.compile(r"^mi-[0-9a-f]{17}$")
OS_USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9@._-]{0,30}[A-Za-z0-9$_-]?$")


def _ssh_string(blob, off):
    if off + 4 > len(blob):
        raise ValueError("short")
    n = struct.unpack(">I", blob[off:off + 4])[0]
    if off + 4 + n > len(blob):
        raise ValueError("short")
    return blob[off + 4:off + 4 + n], off + 4 + n


def validate_ssh_public_key(key):
    """Raise ApiError(InvalidArgsException) unless key is an ssh-rsa (>=2048 bit) or ssh-ed25519 key."""
    bad = ApiError(400, "InvalidArgsException", "The SSH public key is not valid: only ssh-rsa "
                   "(2048 bits or more) and ssh-ed25519 keys in OpenSSH format are supported.")
    if not isinstance(key, str) or not (80 <= len(key) <= 4096):
        raise ApiError(400, "InvalidArgsException",
                       "SSHPublicKey must be between 80 and 4096 characters long.")
    parts = key.strip().split()
    if len(parts) < 2 or parts[0] not in ("ssh-rsa", "ssh-ed25519"):
        raise bad
    try:
        blob = base64.b64decode(parts[1], validate=True)
        ktype, off = _ssh_string(blob, 0)
        if ktype.decode("ascii") != parts[0]:
            raise ValueError("type mismatch")
        if parts[0] == "ssh-ed25519":
            pk, off = _ssh_string(blob, off)
            if len(pk) != 32 or off != len(blob):
                raise ValueError("ed25519 length")
        else:
            _e, off = _ssh_string(blob, off)
            n, off = _ssh_string(blob, off)
            bits = int.from_bytes(n, "big").bit_length()
            if bits < 2048 or off != len(blob):
                raise ValueError("rsa size")
    except (ValueError, UnicodeDecodeError, base64.binascii.Error):
        raise bad
    return parts[0]


def request_region(handler):
    a = parse_authorization(handler.headers.get("Authorization"))
    if a:
        return a["region"]
    return CFG.get("region")


def check_denied(action):
    if action in (CFG.get("deny_actions") or []):
        raise ApiError(400, "AccessDeniedException",
                       "User: arn:aws:iam::123456789012:user/standin is not authorized to perform: %s "
                       "on resource: * because no identity-based policy allows the %s action" % (action, action))


# ---------------------------------------------------------------------------------------------
# SSM operations
# ---------------------------------------------------------------------------------------------

def _iso(ts):
    return datetime.datetime.utcfromtimestamp(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def op_describe_instance_information(req, region):
    ids = None
    want_ping = None
    for f in req.get("Filters") or []:
        k = f.get("Key")
        vals = f.get("Values") or []
        if k == "InstanceIds":
            ids = set(vals) if ids is None else ids & set(vals)
        elif k == "PingStatus":
            want_ping = set(vals)
        elif k in ("PlatformTypes", "ResourceType", "AgentVersion", "AssociationStatus") or (k or "").startswith("tag"):
            pass
        else:
            raise ApiError(400, "InvalidFilterKey", "The filter key %s is not valid." % k)
    for f in req.get("InstanceInformationFilterList") or []:
        k = f.get("key")
        vals = f.get("valueSet") or []
        if k == "InstanceIds":
            ids = set(vals) if ids is None else ids & set(vals)
        elif k == "PingStatus":
            want_ping = set(vals)
        elif k in ("PlatformTypes", "ResourceType", "AgentVersion", "AssociationStatus", "IamRole",
                   "ActivationIds"):
            pass
        else:
            raise ApiError(400, "InvalidInstanceInformationFilterValue", "The filter key %s is not valid." % k)
    try:
        inst = all_instances(region)
    except MotoError as e:
        raise ApiError(500, "InternalServerError", str(e))
    items = []
    for iid in sorted(inst):
        if ids is not None and iid not in ids:
            continue
        info = inst[iid]
        ps = ping_status(region, iid, info)
        if ps is None or (want_ping is not None and ps not in want_ping):
            continue
        items.append({
            "InstanceId": iid,
            "PingStatus": ps,
            "LastPingDateTime": round(time.time(), 3),
            "AgentVersion": CFG.get("agent_version"),
            "IsLatestVersion": True,
            "PlatformType": "Linux",
            "PlatformName": "Amazon Linux",
            "PlatformVersion": "2023",
            "ResourceType": "EC2Instance",
            "IPAddress": info.get("private_ip") or "10.0.0.10",
            "ComputerName": info.get("private_dns") or "ip-10-0-0-10.ec2.internal",
            "AssociationStatus": "Success",
            "SourceId": iid,
            "SourceType": "AWS::EC2::Instance",
        })
    try:
        start = int(req.get("NextToken") or 0)
    except ValueError:
        raise ApiError(400, "InvalidNextToken", "The specified token is not valid.")
    mx = req.get("MaxResults")
    if mx is not None:
        if not isinstance(mx, int) or not (5 <= mx <= 50):
            raise ApiError(400, "ValidationException",
                           "1 validation error detected: Value '%s' at 'maxResults' failed to satisfy "
                           "constraint: Member must have value between 5 and 50" % mx)
        page = items[start:start + mx]
        resp = {"InstanceInformationList": page}
        if start + mx < len(items):
            resp["NextToken"] = str(start + mx)
        return resp
    return {"InstanceInformationList": items[start:]}


def instance_online(region, iid):
    try:
        info = get_instance(region, iid)
    except MotoError:
        return False
    return ping_status(region, iid, info) == "Online"


def stream_url(handler, sid, cell=None):
    host = handler.server.server_address[0]
    port = handler.server.server_address[1]
    hp = "%s:%d" % (host, port)
    if CFG.get("stream_url_host"):
        hp = CFG.get("stream_url_host")         # e.g. a proxy in front of us
    url = "ws://%s/v1/data-channel/%s?role=publish_subscribe" % (hp, sid)
    if cell is not None:
        url += "&cell-number=" + cell
    return url


def op_start_session(req, region, handler):
    target = req.get("Target")
    if not target or not isinstance(target, str):
        raise ApiError(400, "ValidationException", "1 validation error detected: Value null at 'target' "
                       "failed to satisfy constraint: Member must not be null")
    doc = req.get("DocumentName") or "SSM-SessionManagerRunShell"
    if doc not in (CFG.get("allowed_documents") or []):
        raise ApiError(400, "InvalidDocument", "Document with name %s does not exist." % doc)
    params = req.get("Parameters") or {}
    if not isinstance(params, dict) or any(not isinstance(v, list) for v in params.values()):
        raise ApiError(400, "SerializationException", "Parameters values must be lists of strings")
    port = (params.get("portNumber") or ["22"])[0]
    if CFG.take("target_not_connected", "ssm:StartSession"):
        raise ApiError(400, "TargetNotConnected", "%s is not connected." % target)
    if not instance_online(region, target):
        raise ApiError(400, "TargetNotConnected", "%s is not connected." % target)
    sid = "%s-%s" % (CFG.get("session_id_prefix"), secrets.token_hex(9)[:17])
    sess = Session(sid, target, region, doc, port, req.get("Reason"))
    token = sess.issue_token()
    with STATE.lock:
        STATE.sessions[sid] = sess
    url = stream_url(handler, sid)
    sess.stream_url = url
    log.info("StartSession %s target %s port %s -> %s", sid, target, port, sess.target_addr)
    return {"SessionId": sid, "TokenValue": token, "StreamUrl": url}


def op_resume_session(req, region, handler):
    sid = req.get("SessionId")
    with STATE.lock:
        sess = STATE.sessions.get(sid)
    if sess is None:
        raise ApiError(400, "DoesNotExistException", "Session %s does not exist." % sid)
    if sess.ended:
        if CFG.get("resume_omit_nulls"):
            return {"SessionId": sid}
        return {"SessionId": sid, "TokenValue": None, "StreamUrl": None}
    token = sess.issue_token()
    url = sess.stream_url
    if CFG.get("resume_new_url", session=sid):
        sess.cell += 1
        url = stream_url(handler, sid, cell=str(sess.cell))
        sess.stream_url = url
    sess.resumes += 1
    return {"SessionId": sid, "TokenValue": token, "StreamUrl": url}


def op_terminate_session(req, region, handler):
    sid = req.get("SessionId")
    if not sid:
        raise ApiError(400, "ValidationException", "SessionId must not be null")
    with STATE.lock:
        sess = STATE.sessions.get(sid)
    if sess is not None:
        sess.terminated_by_api = True
        sess.end("", reason="TerminateSession API")
    return {"SessionId": sid}


SSM_OPS = {
    "DescribeInstanceInformation": lambda req, region, h: op_describe_instance_information(req, region),
    "StartSession": op_start_session,
    "ResumeSession": op_resume_session,
    "TerminateSession": op_terminate_session,
}


# ---------------------------------------------------------------------------------------------
# EC2 Instance Connect
# ---------------------------------------------------------------------------------------------

def op_send_ssh_public_key(req, region, handler):
    iid = req.get("InstanceId")
    user = req.get("InstanceOSUser")
    key = req.get("SSHPublicKey")
    az = req.get("AvailabilityZone")
    if not isinstance(iid, str) or not INSTANCE_ID_RE.match(iid):
        raise ApiError(400, "InvalidArgsException", "Instance ID is not valid: %r" % (iid,))
    if not isinstance(user, str) or not user or not OS_USER_RE.match(user):
        raise ApiError(400, "InvalidArgsException", "InstanceOSUser is not valid: %r" % (user,))
    validate_ssh_public_key(key)
    try:
        info = get_instance(region, iid)
    except MotoError as e:
        raise ApiError(500, "ServiceException", str(e))
    if info is None or info["state"] == "terminated":
        raise ApiError(400, "EC2InstanceNotFoundException", "Instance not found: %s" % iid)
    if info["state"] != "running":
        raise ApiError(400, "EC2InstanceStateInvalidException",
                       "Unable to connect to the instance %s because it is not in the running state." % iid)
    if az is not None and az != info.get("availability_zone"):
        raise ApiError(400, "InvalidArgsException",
                       "Availability zone %s does not match the instance's availability zone." % az)
    ttl = float(CFG.get("key_ttl"))
    k = key.strip()
    with STATE.lock:
        lst = [e for e in STATE.keys.get((iid, user), []) if e["expires"] > time.time() and e["key"] != k]
        lst.append({"key": k, "expires": time.time() + ttl, "pushed": time.time()})
        STATE.keys[(iid, user)] = lst
    log.info("EIC key for %s@%s stored for %ss", user, iid, ttl)
    return {"RequestId": new_request_id(), "Success": True}


EIC_OPS = {"SendSSHPublicKey": op_send_ssh_public_key}


def valid_keys(instance, user):
    with STATE.lock:
        now = time.time()
        return [e["key"] for e in STATE.keys.get((instance, user), []) if e["expires"] > now]


# ---------------------------------------------------------------------------------------------
# SSO portal and SSO-OIDC
# ---------------------------------------------------------------------------------------------

def sso_grants(token):
    """Grants ({account: [roles]}) of a bearer token, or None when unknown/expired."""
    if not token:
        return None
    t = (CFG.get("sso_tokens") or {}).get(token)
    if t is None:
        with STATE.lock:
            t = STATE.sso_access.get(token)
    if t is None:
        return None
    exp = t.get("expires")
    if exp is not None and time.time() >= float(exp):
        return None
    return t.get("accounts") or {}


def sso_role_credentials(account, role):
    conf = CFG.get("sso_credentials") or {}
    c = conf.get("%s/%s" % (account, role)) or conf.get("*")
    if c:
        c = dict(c)
        c.setdefault("expiration", now_ms() + int(CFG.get("sso_credentials_ttl")) * 1000)
        return c
    ak = "ASIA" + "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    sk = base64.b64encode(os.urandom(30)).decode()
    tok = base64.b64encode(os.urandom(96)).decode()
    with STATE.lock:
        STATE.minted_keys[ak] = (sk, tok)
    return {"accessKeyId": ak, "secretAccessKey": sk, "sessionToken": tok,
            "expiration": now_ms() + int(CFG.get("sso_credentials_ttl")) * 1000}


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
OIDC_SECRET_KEYS = ("clientSecret", "refreshToken", "accessToken", "deviceCode", "code", "codeVerifier")


def oidc_error(status, code, error, desc):
    return ApiError(status, code, desc, {"error": error, "error_description": desc})


def oidc_client(req):
    """The registered client of a request, its secret checked."""
    with STATE.lock:
        c = STATE.oidc_clients.get(req.get("clientId") or "")
    if c is None or not hmac.compare_digest(c["secret"], req.get("clientSecret") or ""):
        raise oidc_error(401, "InvalidClientException", "invalid_client", "Invalid client")
    if c["expires"] < time.time():
        raise oidc_error(401, "InvalidClientException", "invalid_client", "Client registration expired")
    return c


def oidc_register(req):
    """RegisterClient: a public client; grantTypes/redirectUris for the authorization-code grant."""
    if not req.get("clientName") or req.get("clientType") != "public":
        raise oidc_error(400, "InvalidRequestException", "invalid_request", "clientName and clientType public required")
    grants = req.get("grantTypes") or [DEVICE_GRANT, "refresh_token"]
    if "authorization_code" in grants and not req.get("redirectUris"):
        raise oidc_error(400, "InvalidRequestException", "invalid_request", "redirectUris required")
    cid = "standin-client-" + secrets.token_urlsafe(12)
    sec = "standin-client-secret-" + secrets.token_urlsafe(24)
    now = int(time.time())
    exp = now + int(CFG.get("oidc_registration_ttl"))
    with STATE.lock:
        STATE.oidc_clients[cid] = {"secret": sec, "grantTypes": grants,
                                   "redirectUris": req.get("redirectUris") or [], "expires": exp}
    return {"clientId": cid, "clientSecret": sec, "clientIdIssuedAt": now, "clientSecretExpiresAt": exp}


def oidc_start_device(req):
    oidc_client(req)
    if not req.get("startUrl"):
        raise oidc_error(400, "InvalidRequestException", "invalid_request", "startUrl required")
    dc = "standin-device-" + secrets.token_urlsafe(24)
    uc = "%s-%s" % ("".join(random.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(4)),
                    "".join(random.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(4)))
    interval = int(CFG.get("oidc_device_interval"))
    exp_in = int(CFG.get("oidc_device_expires_in"))
    with STATE.lock:
        STATE.oidc_devices[dc] = {"client": req["clientId"], "userCode": uc, "status": "pending",
                                  "expires": time.time() + exp_in, "interval": interval, "last": 0.0}
    base = "http://%s:%d" % SERVER.server_address[:2]
    return {"deviceCode": dc, "userCode": uc, "verificationUri": base + "/device",
            "verificationUriComplete": base + "/device?user_code=" + uc,
            "expiresIn": exp_in, "interval": interval}


def oidc_mint(grants_from, client_id, client_secret):
    ttl = int(CFG.get("sso_access_token_ttl"))
    access = "standin-sso-" + secrets.token_urlsafe(32)
    grants = CFG.get("oidc_grants") or {}
    with STATE.lock:
        STATE.sso_access[access] = {"accounts": grants, "expires": time.time() + ttl}
    rt = "standin-rt-" + secrets.token_urlsafe(24)
    CFG.patch({"sso_refresh_tokens": {rt: {"client_id": client_id, "client_secret": client_secret,
                                           "accounts": grants}}})
    return {"accessToken": access, "tokenType": "Bearer", "expiresIn": ttl, "refreshToken": rt}


def oidc_grant(req):
    """CreateToken for the authorization_code (PKCE checked) and device_code grants."""
    c = oidc_client(req)
    grant = req.get("grantType")
    if grant == "authorization_code":
        with STATE.lock:
            code = STATE.oidc_codes.pop(req.get("code") or "", None)
        if code is None or code["expires"] < time.time() or code["client"] != req.get("clientId"):
            raise oidc_error(400, "InvalidGrantException", "invalid_grant", "Invalid authorization code")
        if code["redirect"] != req.get("redirectUri"):
            raise oidc_error(400, "InvalidGrantException", "invalid_grant", "redirectUri does not match")
        verifier = req.get("codeVerifier") or ""
        want = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(want, code["challenge"]):
            raise oidc_error(400, "InvalidGrantException", "invalid_grant", "PKCE verification failed")
        return oidc_mint(None, req["clientId"], c["secret"])
    dc = req.get("deviceCode") or ""
    now = time.time()
    with STATE.lock:
        d = STATE.oidc_devices.get(dc)
        if d is None or d["client"] != req.get("clientId"):
            raise oidc_error(400, "InvalidGrantException", "invalid_grant", "Invalid device code")
        if d["expires"] < now:
            raise oidc_error(400, "ExpiredTokenException", "expired_token", "Device code has expired")
        too_fast = d["last"] and now - d["last"] < d["interval"] * 0.8
        d["last"] = now
        if too_fast or CFG.take("oidc_slow_down_next"):
            d["interval"] += 5
            STATE.oidc_calls["slow_down"] += 1
            if too_fast:
                STATE.oidc_calls["too_fast"] += 1
            raise oidc_error(400, "SlowDownException", "slow_down", "Client is polling too quickly")
        if d["status"] == "pending":
            raise oidc_error(400, "AuthorizationPendingException", "authorization_pending",
                             "Authorization is pending")
        if d["status"] == "denied":
            del STATE.oidc_devices[dc]
            raise oidc_error(400, "AccessDeniedException", "access_denied", "The user denied the request")
        del STATE.oidc_devices[dc]
    return oidc_mint(None, req["clientId"], c["secret"])


# ---------------------------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin/1"

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        log.debug("http %s %s", self.address_string(), fmt % args)

    # --- plumbing
    def _split(self):
        p, _, q = self.path.partition("?")
        return p, q

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = []
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out.append(self.rfile.read(n))
                self.rfile.readline(8)
            return b"".join(out)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _aws_error(self, e, rid):
        body = {"__type": e.code, "message": e.message}
        body.update(e.extra)
        self._send(e.status, body, "application/x-amz-json-1.1",
                   {"x-amzn-RequestId": rid, "x-amzn-ErrorType": e.code})

    def _hdr_items(self):
        return list(self.headers.items())

    # --- dispatch
    def do_GET(self):
        path, query = self._split()
        if (self.headers.get("Upgrade") or "").lower() == "websocket":
            return websocket_upgrade(self, path, query)
        if path.startswith("/standin/"):
            return self.control("GET", path, query, b"")
        if path == "/federation/credentials" or path.startswith("/assignment/"):
            return self.sso_portal(path, query)
        if path == "/authorize":
            return self.oidc_authorize(query)
        self._send(404, {"message": "no such resource: %s" % path})

    def do_POST(self):
        path, query = self._split()
        body = self._read_body()
        if path.startswith("/standin/"):
            return self.control("POST", path, query, body)
        if path == "/token":
            return self.oidc_token(body)
        if path in ("/client/register", "/device_authorization"):
            return self.oidc_api(path, body)
        target = self.headers.get("X-Amz-Target")
        if path == "/" and target:
            return self.aws_json(target, body, path, query)
        self._send(404, {"message": "no such resource: %s" % path})

    def do_DELETE(self):
        self._send(405, {"message": "method not allowed"})

    # --- AWS JSON 1.1 (SSM and EIC)
    def aws_json(self, target, body, path, query):
        rid = new_request_id()
        prefix, _, op = target.partition(".")
        entry = {"kind": "api", "target": target, "op": op, "request_id": rid,
                 "headers": dict(self.headers.items())}
        try:
            entry["body"] = json.loads(body.decode() or "{}")
        except ValueError:
            entry["body"] = body.decode("utf-8", "replace")
        region = request_region(self)
        entry["region"] = region
        status, code = 200, None
        try:
            if prefix == "AmazonSSM":
                ops, svc, iam = SSM_OPS, "ssm", "ssm"
            elif prefix == "AWSEC2InstanceConnectService":
                ops, svc, iam = EIC_OPS, "ec2-instance-connect", "ec2-instance-connect"
            else:
                raise ApiError(400, "UnknownOperationException", "Unknown target %s" % target)
            action = "%s:%s" % (iam, op)
            entry["action"] = action
            if CFG.get("require_sigv4"):
                try:
                    verify_sigv4("POST", path, query, self._hdr_items(), body, svc)
                except AuthError as ae:
                    raise ApiError(ae.status, ae.code, ae.message)
            if CFG.take("hang_next", action):
                entry["fault"] = "hang"
                STATE.record(entry)
                log.info("hanging %s", action)
                STATE.hang_event.wait(float(CFG.get("hang_max_s")))
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if action in (CFG.get("hold_actions") or []) and not STATE.release_event.is_set():
                # a proof of concurrency without timing: the test sees which
                # calls are in flight together, then releases them
                with STATE.lock:
                    STATE.held.append(action)
                log.info("holding %s", action)
                ok = STATE.release_event.wait(float(CFG.get("hold_max_s")))
                entry["held"] = "released" if ok else "timeout"
            if CFG.take("fail_next", action):
                raise ApiError(500, "InternalServerError", "Internal Server Error (stand-in fail_next)")
            if CFG.take("throttle_next", action):
                raise ApiError(400, "ThrottlingException", "Rate exceeded")
            check_denied(action)
            fn = ops.get(op)
            if fn is None:
                raise ApiError(400, "UnknownOperationException", "The operation %s is not supported." % op)
            if not isinstance(entry["body"], dict):
                raise ApiError(400, "SerializationException", "Request body is not a JSON object")
            resp = fn(entry["body"], region, self)
            entry["response"] = resp
            self._send(200, resp, "application/x-amz-json-1.1", {"x-amzn-RequestId": rid})
        except ApiError as e:
            status, code = e.status, e.code
            entry["error"] = code
            entry["message"] = e.message
            self._aws_error(e, rid)
        finally:
            if entry.get("fault") != "hang":
                entry["status"] = status if code is None else entry.get("status", status)
                STATE.record(entry)

    # --- SSO portal
    def sso_portal(self, path, query):
        rid = new_request_id()
        q = urllib.parse.parse_qs(query)
        token = self.headers.get("x-amz-sso_bearer_token")
        entry = {"kind": "sso", "path": path, "query": {k: v[0] for k, v in q.items()}, "request_id": rid}
        status = 200
        try:
            action = {"/federation/credentials": "sso:GetRoleCredentials",
                      "/assignment/accounts": "sso:ListAccounts",
                      "/assignment/roles": "sso:ListAccountRoles"}.get(path)
            if action is None:
                raise ApiError(404, "ResourceNotFoundException", "No such resource")
            if action in (CFG.get("hold_actions") or []) and not STATE.release_event.is_set():
                # a proof of concurrency without timing: the test sees which
                # calls are in flight together, then releases them
                with STATE.lock:
                    STATE.held.append(action)
                log.info("holding %s", action)
                ok = STATE.release_event.wait(float(CFG.get("hold_max_s")))
                entry["held"] = "released" if ok else "timeout"
            if CFG.take("fail_next", action):
                raise ApiError(500, "InternalServerError", "Internal Server Error (stand-in fail_next)")
            if CFG.take("throttle_next", action):
                raise ApiError(429, "TooManyRequestsException", "Rate exceeded")
            grants = sso_grants(token)
            if grants is None:
                raise ApiError(401, "UnauthorizedException", "Session token not found or invalid")
            if action == "sso:GetRoleCredentials":
                role = (q.get("role_name") or [None])[0]
                account = (q.get("account_id") or [None])[0]
                if not role or not account:
                    raise ApiError(400, "InvalidRequestException", "role_name and account_id are required")
                if role not in (grants.get(account) or []):
                    raise ApiError(403, "ForbiddenException", "No access")
                resp = {"roleCredentials": sso_role_credentials(account, role)}
            elif action == "sso:ListAccounts":
                resp = {"accountList": [{"accountId": a, "accountName": "account-" + a,
                                         "emailAddress": "owner@example.com"} for a in sorted(grants)]}
            else:
                account = (q.get("account_id") or [None])[0]
                if account not in grants:
                    raise ApiError(403, "ForbiddenException", "No access")
                resp = {"roleList": [{"roleName": r, "accountId": account} for r in grants[account]]}
            entry["response"] = {k: ("(redacted)" if k == "roleCredentials" else v) for k, v in resp.items()}
            self._send(200, resp, "application/json", {"x-amzn-RequestId": rid})
        except ApiError as e:
            status = e.status
            entry["error"] = e.code
            self._send(e.status, {"message": e.message, "__type": e.code}, "application/json",
                       {"x-amzn-RequestId": rid, "x-amzn-ErrorType": e.code})
        finally:
            entry["status"] = status
            STATE.record(entry)

    def oidc_token(self, body):
        rid = new_request_id()
        entry = {"kind": "oidc", "path": "/token", "request_id": rid}
        status = 200
        try:
            try:
                req = json.loads(body.decode() or "{}")
            except ValueError:
                raise ApiError(400, "InvalidRequestException", "body is not JSON", {"error": "invalid_request"})
            entry["body"] = {k: ("(redacted)" if k in OIDC_SECRET_KEYS else v) for k, v in req.items()}
            entry["grant"] = req.get("grantType")
            with STATE.lock:
                STATE.oidc_calls["CreateToken"] += 1
            if req.get("grantType") in ("authorization_code", DEVICE_GRANT):
                resp = oidc_grant(req)
                entry["response"] = {k: ("(redacted)" if k in OIDC_SECRET_KEYS else v) for k, v in resp.items()}
                return self._send(200, resp, "application/json", {"x-amzn-RequestId": rid})
            if req.get("grantType") != "refresh_token":
                raise ApiError(400, "UnsupportedGrantTypeException", "Unsupported grant type",
                               {"error": "unsupported_grant_type"})
            rts = CFG.get("sso_refresh_tokens") or {}
            rt = rts.get(req.get("refreshToken"))
            if rt is None:
                raise ApiError(400, "InvalidGrantException", "Invalid refresh token provided",
                               {"error": "invalid_grant", "error_description": "Invalid refresh token provided"})
            if rt.get("client_id") is not None and (rt.get("client_id") != req.get("clientId")
                                                   or rt.get("client_secret") != req.get("clientSecret")):
                raise ApiError(401, "InvalidClientException", "Invalid client",
                               {"error": "invalid_client"})
            grants = rt.get("accounts")
            if grants is None:
                src = (CFG.get("sso_tokens") or {}).get(rt.get("token") or "", {})
                grants = src.get("accounts") or {}
            ttl = int(CFG.get("sso_access_token_ttl"))
            access = "standin-sso-" + secrets.token_urlsafe(32)
            with STATE.lock:
                STATE.sso_access[access] = {"accounts": grants, "expires": time.time() + ttl}
            resp = {"accessToken": access, "expiresIn": ttl, "tokenType": "Bearer"}
            if CFG.get("sso_rotate_refresh_token"):
                new_rt = "standin-rt-" + secrets.token_urlsafe(24)
                CFG.patch({"sso_refresh_tokens": {new_rt: rt}})
                resp["refreshToken"] = new_rt
            else:
                resp["refreshToken"] = req.get("refreshToken")
            self._send(200, resp, "application/json", {"x-amzn-RequestId": rid})
        except ApiError as e:
            status = e.status
            entry["error"] = e.code
            body = {"__type": e.code, "message": e.message}
            body.update(e.extra)
            self._send(e.status, body, "application/json",
                       {"x-amzn-RequestId": rid, "x-amzn-ErrorType": e.code})
        finally:
            entry["status"] = status
            STATE.record(entry)

    # --- SSO OIDC: RegisterClient, StartDeviceAuthorization, the authorize page
    def oidc_api(self, path, body):
        rid = new_request_id()
        op = {"/client/register": "RegisterClient", "/device_authorization": "StartDeviceAuthorization"}[path]
        entry = {"kind": "oidc", "path": path, "op": op, "request_id": rid}
        status = 200
        try:
            try:
                req = json.loads(body.decode() or "{}")
            except ValueError:
                raise ApiError(400, "InvalidRequestException", "body is not JSON", {"error": "invalid_request"})
            if not isinstance(req, dict):
                raise ApiError(400, "InvalidRequestException", "body is not an object", {"error": "invalid_request"})
            entry["body"] = {k: ("(redacted)" if k in OIDC_SECRET_KEYS else v) for k, v in req.items()}
            with STATE.lock:
                STATE.oidc_calls[op] += 1
            resp = oidc_register(req) if op == "RegisterClient" else oidc_start_device(req)
            entry["response"] = {k: ("(redacted)" if k in OIDC_SECRET_KEYS else v) for k, v in resp.items()}
            self._send(200, resp, "application/json", {"x-amzn-RequestId": rid})
        except ApiError as e:
            status = e.status
            entry["error"] = e.code
            out = {"__type": e.code, "message": e.message}
            out.update(e.extra)
            self._send(e.status, out, "application/json", {"x-amzn-RequestId": rid, "x-amzn-ErrorType": e.code})
        finally:
            entry["status"] = status
            STATE.record(entry)

    def oidc_authorize(self, query):
        """The user's sign-in page, decided by the oidc_authorize switch: a redirect to the client's
        loopback redirect_uri with code+state, or with error=access_denied."""
        q = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        entry = {"kind": "oidc", "path": "/authorize", "op": "Authorize",
                 "query": {k: v for k, v in q.items() if k != "code_challenge"}}
        with STATE.lock:
            STATE.oidc_calls["Authorize"] += 1
            client = STATE.oidc_clients.get(q.get("client_id", ""))
        redirect = q.get("redirect_uri", "")
        u = urllib.parse.urlsplit(redirect)
        problem = None
        if client is None or client["expires"] < time.time():
            problem = "unknown client_id"
        elif "authorization_code" not in client["grantTypes"]:
            problem = "client not registered for authorization_code"
        elif q.get("response_type") != "code":
            problem = "response_type must be code"
        elif u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost") or not any(
                urllib.parse.urlsplit(r).path == u.path and urllib.parse.urlsplit(r).hostname == u.hostname
                for r in client["redirectUris"]):
            problem = "redirect_uri not registered"
        elif q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            problem = "a S256 code_challenge is required"
        if problem:
            entry["error"] = problem
            STATE.record(entry)
            return self._send(400, "<html><body>%s</body></html>" % problem, "text/html")
        params = {}
        if CFG.get("oidc_authorize") == "deny":
            params["error"] = "access_denied"
            params["error_description"] = "The user denied the request"
        else:
            code = "standin-code-" + secrets.token_urlsafe(24)
            with STATE.lock:
                STATE.oidc_codes[code] = {"client": q["client_id"], "redirect": redirect,
                                          "challenge": q["code_challenge"],
                                          "expires": time.time() + float(CFG.get("oidc_code_ttl"))}
            params["code"] = code
        if "state" in q:
            params["state"] = q["state"]
        entry["decision"] = "deny" if "error" in params else "approve"
        STATE.record(entry)
        loc = redirect + ("&" if "?" in redirect else "?") + urllib.parse.urlencode(params)
        self._send(302, "", "text/html", {"Location": loc})

    # --- control API
    def control(self, method, path, query, body):
        q = urllib.parse.parse_qs(query)
        try:
            data = json.loads(body.decode() or "{}") if body else {}
        except ValueError:
            return self._send(400, {"error": "body is not JSON"})
        if method == "GET" and path == "/standin/health":
            return self._send(200, {"ok": True})
        if method == "POST" and path == "/standin/config":
            if not isinstance(data, dict):
                return self._send(400, {"error": "config patch must be a JSON object"})
            new = CFG.patch(data)
            log.info("config patch %s", json.dumps(data))
            if "hang_next" in data and not data["hang_next"]:
                STATE.hang_event.set()
                STATE.hang_event = threading.Event()
            return self._send(200, new)
        if method == "POST" and path == "/standin/reset":
            log.info("reset")
            STATE.hang_event.set()
            CFG.reset()
            for s in STATE.reset():
                s.end("", reason="reset", hard=True)
            return self._send(200, {"ok": True})
        if method == "POST" and path == "/standin/release":
            with STATE.lock:
                CFG.patch({"hold_actions": []})
                STATE.release_event.set()
            log.info("release")
            return self._send(200, {"ok": True})
        if method == "GET" and path == "/standin/config":
            return self._send(200, CFG.snapshot())
        if method == "GET" and path == "/standin/state":
            return self._send(200, state_json())
        if method == "GET" and path == "/standin/log":
            since = int((q.get("since") or ["0"])[0])
            with STATE.lock:
                entries = [e for e in STATE.log if e["n"] > since]
            return self._send(200, entries)
        if method == "GET" and path == "/standin/keys":
            user = (q.get("user") or [""])[0]
            inst = (q.get("instance") or [""])[0] or CFG.get("sshd_instance") or ""
            keys = valid_keys(inst, user)
            STATE.record({"kind": "keys", "user": user, "instance": inst, "count": len(keys)})
            return self._send(200, "".join(k + "\n" for k in keys), "text/plain")
        if method == "POST" and path == "/standin/oidc/decide":
            # the user at the device page: {"userCode": ".." (default: every pending one),
            # "decision": "approve" | "deny"}
            n = 0
            with STATE.lock:
                for d in STATE.oidc_devices.values():
                    if d["status"] == "pending" and data.get("userCode") in (None, d["userCode"]):
                        d["status"] = "approved" if data.get("decision", "approve") == "approve" else "denied"
                        n += 1
            return self._send(200, {"decided": n})
        m = re.match(r"^/standin/sessions/([^/]+)(?:/(close|drop))?$", path)
        if m:
            with STATE.lock:
                sess = STATE.sessions.get(m.group(1))
            if sess is None:
                return self._send(404, {"error": "no such session"})
            if method == "GET" and not m.group(2):
                return self._send(200, sess.to_json())
            if method == "POST" and m.group(2) == "close":
                sess.end(data.get("output", ""), reason="control close", hl112=data.get("hl112"))
                return self._send(200, {"ok": True})
            if method == "POST" and m.group(2) == "drop":
                ok = sess.drop_websocket("control drop")
                return self._send(200, {"ok": ok})
        self._send(404, {"error": "no such control resource: %s %s" % (method, path)})


def state_json():
    with STATE.lock:
        sessions = list(STATE.sessions.values())
        keys = {"%s/%s" % k: [{"key": e["key"], "expires_in": round(e["expires"] - time.time(), 3)}
                              for e in v if e["expires"] > time.time()]
                for k, v in STATE.keys.items()}
        observed = {"%s/%s" % k: dict(v) for k, v in STATE.observed.items()}
    return {
        "port": SERVER.server_address[1],
        "config": CFG.snapshot(),
        "sessions": {s.sid: s.to_json() for s in sessions},
        "keys": keys,
        "instances": observed,
        "oidc": {"calls": dict(STATE.oidc_calls),
                 "devices": {d["userCode"]: d["status"] for d in STATE.oidc_devices.values()},
                 "clients": len(STATE.oidc_clients)},
        "held": list(STATE.held),
    }


# ---------------------------------------------------------------------------------------------
# The SSM data channel: websocket (RFC 6455) + ClientMessage protocol, MGS + agent side
# ---------------------------------------------------------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HDR = struct.Struct(">I32sIQqQ16s32sII")           # HL 116 layout, 120 bytes incl. PayloadLength
HDR112 = struct.Struct(">I32sIQqQ16s32sI")         # MGS channel_closed variant: no PayloadType


def _pad(name):
    return name.encode().ljust(32, b" ")


T_IN = _pad("input_stream_data")
T_OUT = _pad("output_stream_data")
T_ACK = _pad("acknowledge")
T_CLOSED = _pad("channel_closed")
T_PAUSE = _pad("pause_publication")
T_START = _pad("start_publication")
EMPTY_SHA = hashlib.sha256(b"").digest()
PT_OUTPUT, PT_HS_REQ, PT_HS_RESP, PT_HS_DONE, PT_ENC_RESP, PT_FLAG = 1, 5, 6, 7, 9, 10
FLAG_NAMES = {1: "DisconnectToPort", 2: "TerminateSession", 3: "ConnectToPortError"}
_sha256 = hashlib.sha256


# in wire order the UUID's byte 8 (variant) is byte 0 and byte 6 (version) is byte 14
_ID_CLEAR = ~((0xC0 << 120) | (0xF0 << 8)) & ((1 << 128) - 1)
_ID_SET = (0x80 << 120) | (0x40 << 8)
_getrandbits = random.getrandbits


def new_msgid():
    """Random v4 UUID in wire order (8-byte halves swapped)."""
    return ((_getrandbits(128) & _ID_CLEAR) | _ID_SET).to_bytes(16, "big")


def wire_to_uuid(w):
    h = (w[8:] + w[:8]).hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def encode_msg(mtype, seq, flags, ptype, payload, msgid=None, digest=None, created=None):
    return HDR.pack(116, mtype, 1, created or now_ms(), seq, flags, msgid or new_msgid(),
                    digest if digest is not None else _sha256(payload).digest(), ptype, len(payload)) + payload


def ws_frame(payload, opcode=2):
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return struct.pack(">BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack(">BBQ", 0x80 | opcode, 127, n) + payload


_ZEROS = [bytes(i) for i in range(64)]


def unmask(data, mask):
    n = len(data)
    if not n:
        return b""
    k = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


_ACK_FMT = (b'{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageId":"%s-%s-%s-%s-%s",'
            b'"AcknowledgedMessageSequenceNumber":%d,"IsSequentialMessage":true}')
_ACK_RE = re.compile(rb'^\{"AcknowledgedMessageType":"([a-z_]*)","AcknowledgedMessageId":"([0-9a-f-]*)",'
                     rb'"AcknowledgedMessageSequenceNumber":(\d+),"IsSequentialMessage":(?:true|false)\}$')


class OutMsg:
    __slots__ = ("seq", "frame", "msgid", "last_sent", "first_sent", "sends", "ptype", "size")

    def __init__(self, seq, frame, msgid, ptype, size):
        self.seq, self.frame, self.msgid, self.ptype, self.size = seq, frame, msgid, ptype, size
        self.last_sent = 0.0
        self.first_sent = 0.0
        self.sends = 0


class ProtocolClose(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code, self.reason = code, reason


_ABORT, _CLOSE, _STOP, _RAW = object(), object(), object(), object()


class WSConn:
    """One websocket connection: the handler thread reads, a writer thread sends."""

    counter = 0

    def __init__(self, sock, rfile, info):
        WSConn.counter += 1
        self.n = WSConn.counter
        self.sock = sock
        self.rfile = rfile
        self.info = info            # connect record (dict), shared with the session's state
        self.q = queue.SimpleQueue()
        self.dead = False
        self.poisoned = False       # after giant_frame: send nothing more
        self.close_sent = False
        self.session = None
        self.writer = threading.Thread(target=self._writer, name="ws%d-w" % self.n, daemon=True)
        self.writer.start()

    # --- sending (any thread)
    def send(self, frames):
        if frames and not self.dead:
            self.q.put(frames)

    def send_raw(self, data):
        self.q.put((_RAW, data))

    def abort(self):
        self.q.put((_ABORT,))

    def close(self, code=1000, reason=""):
        self.q.put((_CLOSE, code, reason))

    def stop(self):
        self.q.put((_STOP,))

    def _kill(self):
        self.dead = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _writer(self):
        q = self.q
        while True:
            item = q.get()
            batch = []
            ctl = None
            size = 0
            while True:
                if isinstance(item, list):
                    if not self.poisoned and not self.close_sent:
                        batch.extend(item)
                        size += len(item)
                else:
                    ctl = item
                    break
                if size > 512:
                    break
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
            if batch and not self.dead:
                try:
                    self.sock.sendall(b"".join(batch))
                except OSError as e:
                    log.info("ws%d send failed: %s", self.n, e)
                    self._kill()
            if ctl is None:
                continue
            kind = ctl[0]
            if kind is _STOP:
                return
            if self.dead:
                continue
            try:
                if kind is _RAW:
                    self.sock.sendall(ctl[1])
                    self.poisoned = True
                elif kind is _ABORT:
                    log.info("ws%d: abrupt close (no close frame)", self.n)
                    self.info["closed_by"] = self.info.get("closed_by") or "standin-abort"
                    self._kill()
                elif kind is _CLOSE:
                    if not self.close_sent:
                        self.close_sent = True
                        self.sock.sendall(ws_frame(struct.pack(">H", ctl[1]) + ctl[2].encode()[:120], 8))
                        # give the client 2 s to answer with its close frame, then drop TCP
                        t = threading.Timer(2.0, self._kill)
                        t.daemon = True
                        t.start()
            except OSError as e:
                log.info("ws%d control send failed: %s", self.n, e)
                self._kill()

    # --- reading (handler thread)
    def read_loop(self):
        buf = bytearray()
        frag_op = None
        frag = []
        frag_len = 0
        opened = False
        maxmsg = int(CFG.get("max_ws_message"))
        read1 = self.rfile.read1
        try:
            while True:
                try:
                    data = read1(262144)
                except (OSError, ValueError):
                    data = b""
                if not data:
                    if not self.info.get("closed_by"):
                        self.info["closed_by"] = "client-eof" if not self.dead else self.info.get("closed_by")
                    return
                buf += data
                # pass 1: find complete frames (headers are not masked)
                pos = 0
                end = len(buf)
                frames = []
                while end - pos >= 2:
                    b0 = buf[pos]
                    b1 = buf[pos + 1]
                    n = b1 & 0x7F
                    hl = 2
                    if n == 126:
                        if end - pos < 4:
                            break
                        n = (buf[pos + 2] << 8) | buf[pos + 3]
                        hl = 4
                    elif n == 127:
                        if end - pos < 10:
                            break
                        n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                        hl = 10
                    if not b1 & 0x80:
                        raise ProtocolClose(1002, "client frame not masked")
                    if b0 & 0x70:
                        raise ProtocolClose(1002, "reserved bits set")
                    if n > maxmsg:
                        raise ProtocolClose(1009, "frame too big")
                    if end - pos < hl + 4 + n:
                        break
                    frames.append((b0, pos + hl + 4, n, pos + hl))
                    pos += hl + 4 + n
                if not frames:
                    continue
                # pass 2: unmask every payload of the block with one big-integer XOR
                ks = []
                prev = 0
                for b0, ps, n, mp in frames:
                    gap = ps - prev
                    ks.append(_ZEROS[gap] if gap < 64 else bytes(gap))
                    if n:
                        ks.append((bytes(buf[mp:mp + 4]) * ((n >> 2) + 1))[:n])
                    prev = ps + n
                block = bytes(buf[:pos])
                plain = (int.from_bytes(block, "little") ^ int.from_bytes(b"".join(ks), "little")).to_bytes(pos, "little")
                msgs = []
                for b0, ps, n, mp in frames:
                    payload = plain[ps:ps + n]
                    fin = b0 & 0x80
                    op = b0 & 0x0F
                    if op >= 8:
                        if not fin or n > 125:
                            raise ProtocolClose(1002, "bad control frame")
                        if op == 9:
                            self.info["pings"] = self.info.get("pings", 0) + 1
                            self.send([ws_frame(payload, 10)])
                        elif op == 10:
                            pass
                        elif op == 8:
                            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                            self.info["client_close_frame"] = code
                            self.info["closed_by"] = "client-close-frame"
                            if self.session:
                                self.session.stats["client_close_frames"] += 1
                            log.info("ws%d: client close frame %s", self.n, code)
                            if msgs:
                                if not opened:
                                    op1, first = msgs.pop(0)
                                    self._open(op1, first)
                                    opened = True
                                if msgs:
                                    self._deliver(msgs)
                                msgs = []
                            self.close(code if code not in (1005, 1006) else 1000, "")
                            return
                        else:
                            raise ProtocolClose(1002, "unknown control opcode %d" % op)
                        continue
                    if op == 0:
                        if frag_op is None:
                            raise ProtocolClose(1002, "continuation without start")
                        frag.append(payload)
                        frag_len += n
                        if frag_len > maxmsg:
                            raise ProtocolClose(1009, "message too big")
                        if fin:
                            msgs.append((frag_op, b"".join(frag)))
                            self.info["fragmented_messages"] = self.info.get("fragmented_messages", 0) + 1
                            frag_op, frag, frag_len = None, [], 0
                        continue
                    if op not in (1, 2):
                        raise ProtocolClose(1002, "unknown opcode %d" % op)
                    if frag_op is not None:
                        raise ProtocolClose(1002, "new message inside a fragmented one")
                    if not fin:
                        frag_op, frag, frag_len = op, [payload], n
                        continue
                    msgs.append((op, payload))
                if pos:
                    del buf[:pos]
                if msgs:
                    if not opened:
                        op, first = msgs.pop(0)
                        self._open(op, first)
                        opened = True
                    if msgs:
                        self._deliver(msgs)
        except ProtocolClose as e:
            log.info("ws%d: closing: %s (%d)", self.n, e.reason, e.code)
            self.info["closed_by"] = "standin-protocol-error"
            self.info["protocol_error"] = e.reason
            if self.session:
                self.session.stats["protocol_errors"] += 1
                self.session.errors.append(e.reason)
            self.close(e.code, e.reason)

    def _open(self, op, data):
        """The first data frame: OpenDataChannel JSON."""
        info = self.info
        try:
            if op != 1:
                info["open_error"] = "first data frame is not TEXT"
            j = json.loads(data.decode("utf-8"))
            if not isinstance(j, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            info["open_error"] = "OpenDataChannel is not JSON"
            raise ProtocolClose(1008, "bad OpenDataChannel")
        info["open"] = {k: ("(token)" if k == "TokenValue" else v) for k, v in j.items()}
        info["open_text_frame"] = op == 1
        info["client_id"] = j.get("ClientId")
        info["request_id"] = j.get("RequestId")
        info["client_version"] = j.get("ClientVersion")
        problems = []
        if op != 1:
            problems.append("first data frame not TEXT")
        if j.get("MessageSchemaVersion") != "1.0":
            problems.append("MessageSchemaVersion != 1.0")
        if not j.get("RequestId"):
            problems.append("no RequestId")
        token = j.get("TokenValue")
        with STATE.lock:
            t = STATE.tokens.pop(token, None) if isinstance(token, str) else None
        sid = info.get("path_session")
        if t is None or t[0] != sid:
            problems.append("invalid or reused token")
        if problems:
            info["open_error"] = "; ".join(problems)
            log.info("ws%d: OpenDataChannel rejected: %s", self.n, info["open_error"])
            with STATE.lock:
                sess = STATE.sessions.get(sid)
            if sess is not None:
                sess.rejected_connects.append(dict(info))
            raise ProtocolClose(1008, "Invalid OpenDataChannel: " + info["open_error"])
        info["token_kind"] = t[1]
        with STATE.lock:
            sess = STATE.sessions.get(sid)
        if sess is None or sess.ended:
            info["open_error"] = "session ended"
            raise ProtocolClose(1008, "session ended")
        self.session = sess
        sess.attach(self)

    def _deliver(self, msgs):
        sess = self.session
        if sess is None:
            return
        sess.on_frames(self, msgs)


def websocket_upgrade(handler, path, query):
    headers = dict(handler.headers.items())
    info = {"n": 0, "time": round(time.time(), 3), "path": path, "query": query, "headers": headers}
    m = re.match(r"^/v1/data-channel/([^/?]+)$", path)
    entry = {"kind": "ws", "path": path, "query": query, "headers": headers}
    try:
        if not m:
            raise ApiError(404, "NotFound", "no data channel at %s" % path)
        info["path_session"] = m.group(1)
        conn_hdr = [t.strip().lower() for t in (handler.headers.get("Connection") or "").split(",")]
        key = handler.headers.get("Sec-WebSocket-Key")
        if "upgrade" not in conn_hdr or not key or handler.headers.get("Sec-WebSocket-Version") != "13":
            raise ApiError(400, "BadRequest", "not a valid websocket upgrade")
        try:
            if len(base64.b64decode(key, validate=True)) != 16:
                raise ValueError
        except (ValueError, base64.binascii.Error):
            raise ApiError(400, "BadRequest", "bad Sec-WebSocket-Key")
        info["sigv4"] = None
        if handler.headers.get("Authorization"):
            info["sigv4"] = parse_authorization(handler.headers.get("Authorization"))
        if CFG.get("require_ws_sigv4"):
            try:
                info["sigv4"] = verify_sigv4("GET", path, query, list(handler.headers.items()), b"", "ssmmessages")
            except AuthError as ae:
                raise ApiError(403, ae.code, ae.message)
    except ApiError as e:
        entry.update(status=e.status, error=e.code)
        STATE.record(entry)
        with STATE.lock:
            sess = STATE.sessions.get(info.get("path_session"))
        if sess is not None:
            info["upgrade_error"] = e.code
            sess.rejected_connects.append(info)
        handler.close_connection = True
        return handler._send(e.status, {"__type": e.code, "message": e.message},
                             headers={"Connection": "close"})
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    handler.close_connection = True
    handler.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
    handler.wfile.flush()
    entry["status"] = 101
    STATE.record(entry)
    sock = handler.connection
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = WSConn(sock, handler.rfile, info)
    log.info("ws%d: upgrade %s?%s", conn.n, path, query)
    try:
        conn.read_loop()
    except Exception:
        log.exception("ws%d: reader crashed", conn.n)
    finally:
        if conn.session is not None:
            conn.session.detach(conn)
        conn.stop()
        conn.writer.join(5)
        conn.dead = True
        log.info("ws%d: closed (%s)", conn.n, info.get("closed_by"))


class Session:
    def __init__(self, sid, target, region, document, port, reason=None):
        self.sid = sid
        self.target = target
        self.region = region
        self.document = document
        self.port_number = port
        self.reason = reason
        t = (CFG.get("targets") or {}).get(target) or CFG.get("target")
        host, _, p = t.rpartition(":")
        self.target_addr = (host or "127.0.0.1", int(p))
        self.created = time.time()
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.ws = None
        self.connects = []
        self.rejected_connects = []
        self.errors = []
        self.ended = False
        self.end_reason = None
        self.end_output = None
        self.terminated_by_api = False
        self.stream_url = None
        self.cell = 0
        self.resumes = 0
        self.tokens_issued = 0
        # agent -> client
        self.out_seq = 0
        self.out_buf = collections.OrderedDict()
        self.out_data_n = 0
        self.held = None
        self.paused = False
        self.rtt, self.rttvar, self.rto = 0.1, 0.0, 0.2
        # client -> agent
        self.in_expected = 0
        self.in_buf = {}
        # handshake / target
        self.hs_state = "none"           # none, requested, complete, failed
        self.hs_sent = None
        self.hs_response = None
        self.hs_done_time = None
        self.withhold_until = 0.0
        self.silent_conn = None           # the websocket stop_acking_after_bytes silenced
        self.tcp = None
        self.tcp_q = None
        self.tcp_state = "none"          # none, connecting, connected, closed, failed
        self.relayed = 0
        self.drop_done = False
        self.pause_done = False
        self.client_ids = []
        self.trace = []
        self.flags = []
        self.stats = collections.Counter()
        self.timer_thread = None
        self.wake = threading.Event()
        self._cfg_version = -1
        self._cfg_cache = {}

    # --- config helpers (cached per config version: this is on the per-message path)
    def cfg(self, key):
        if self._cfg_version != CFG.version:
            self._cfg_cache = {}
            self._cfg_version = CFG.version
        try:
            return self._cfg_cache[key]
        except KeyError:
            v = self._cfg_cache[key] = CFG.get(key, instance=self.target, session=self.sid)
            return v

    def issue_token(self):
        tok = str(CFG.get("token_prefix") or "") + \
            base64.urlsafe_b64encode(os.urandom(96)).decode().rstrip("=")
        with STATE.lock:
            for t, (sid, _k) in list(STATE.tokens.items()):
                if sid == self.sid:
                    del STATE.tokens[t]
            STATE.tokens[tok] = (self.sid, "start" if self.tokens_issued == 0 else "resume")
        self.tokens_issued += 1
        return tok

    def _trace(self, direction, mtype, seq, flags, ptype, plen, extra=None):
        if len(self.trace) < 64:
            e = {"dir": direction, "type": mtype, "seq": seq, "flags": flags, "ptype": ptype, "len": plen,
                 "t": round(time.time() - self.created, 4)}
            if extra:
                e.update(extra)
            self.trace.append(e)

    # --- connection management
    def attach(self, conn):
        info = conn.info
        with self.lock:
            info["n"] = len(self.connects) + 1
            self.connects.append(info)
            cid = info.get("client_id")
            if self.client_ids and cid != self.client_ids[0]:
                self.stats["client_id_changes"] += 1
            self.client_ids.append(cid)
            old = self.ws
            self.ws = conn
            if old is not None and old is not conn:
                old.info["closed_by"] = old.info.get("closed_by") or "replaced"
                old.abort()
            self._trace("C>S", "OpenDataChannel", None, None, None, None, {"token_kind": info.get("token_kind")})
            log.info("session %s: websocket %d attached (connect #%d, %s token)", self.sid, conn.n,
                     info["n"], info.get("token_kind"))
            if self.hs_state == "none":
                self.hs_state = "requested"
                self.hs_sent = time.time()
                actions = [{"ActionType": "SessionType",
                            "ActionParameters": {"SessionType": self.cfg("session_type"),
                                                 "Properties": {"portNumber": self.port_number}}}]
                actions += list(self.cfg("extra_handshake_actions") or [])
                payload = json.dumps({"AgentVersion": self.cfg("agent_version"),
                                      "RequestedClientActions": actions}, separators=(",", ":")).encode()
                self._queue_out(PT_HS_REQ, payload, flags=1)
            else:
                # resume: no new handshake; retransmit everything unacked, in order
                if self.paused:
                    conn.send([ws_frame(encode_msg(T_PAUSE, 0, 0, 0, b""))])
                    for om in self.out_buf.values():
                        om.last_sent = 0.0
                else:
                    now = time.time()
                    frames = []
                    for om in self.out_buf.values():
                        frames.append(om.frame)
                        om.last_sent = now
                        om.sends += 1
                    if frames:
                        self.stats["out_resent_on_reconnect"] += len(frames)
                        conn.send(frames)
        if self.timer_thread is None:
            self.timer_thread = threading.Thread(target=self._timer, name="%s-timer" % self.sid[-6:], daemon=True)
            self.timer_thread.start()

    def detach(self, conn):
        with self.lock:
            if self.ws is conn:
                self.ws = None
                log.info("session %s: websocket %d detached (%s)", self.sid, conn.n, conn.info.get("closed_by"))
            self.cond.notify_all()

    def drop_websocket(self, why):
        with self.lock:
            ws = self.ws
            self.ws = None
        if ws is None:
            return False
        ws.info["closed_by"] = why
        ws.abort()
        return True

    # --- agent -> client
    def _queue_out(self, ptype, payload, flags=0):
        """Sequence and send one agent message (lock held)."""
        seq = self.out_seq
        self.out_seq += 1
        mid = new_msgid()
        frame = ws_frame(encode_msg(T_OUT, seq, flags, ptype, payload, mid))
        om = OutMsg(seq, frame, mid, ptype, len(payload))
        self.out_buf[seq] = om
        self._trace("S>C", "output_stream_data", seq, flags, ptype, len(payload))
        if self.ws is not None and not self.paused:
            om.last_sent = om.first_sent = time.time()
            om.sends = 1
            self.ws.send([frame])
        return om

    def send_control(self, frames):
        ws = self.ws
        if ws is not None:
            ws.send(frames)

    def _wait_window(self):
        window = int(self.cfg("out_window"))
        with self.cond:
            while len(self.out_buf) >= window and not self.ended:
                self.stats["window_waits"] += 1
                self.cond.wait(0.5)

    def _emit(self, payloads):
        """Sequence a batch of Output payloads and send them, applying the fault switches."""
        c = self.cfg
        dup, reo, bad, unk = (int(c("duplicate_every") or 0), int(c("reorder_every") or 0),
                              int(c("corrupt_digest_every") or 0), int(c("unknown_message_every") or 0))
        drop_at = int(c("drop_after_bytes") or 0)
        pause_at = int(c("pause_after_bytes") or 0)
        faults = dup or reo or bad or unk or drop_at or pause_at
        st = self.stats
        with self.lock:
            ws = self.ws
            sendable = ws is not None and not self.paused
            frames = []
            now = time.time()
            ms = now_ms()
            out_buf = self.out_buf
            action = None
            for p in payloads:
                seq = self.out_seq
                self.out_seq = seq + 1
                mid = new_msgid()
                digest = _sha256(p).digest()
                msg = HDR.pack(116, T_OUT, 1, ms, seq, 0, mid, digest, 1, len(p)) + p
                frame = ws_frame(msg)
                om = OutMsg(seq, frame, mid, 1, len(p))
                out_buf[seq] = om
                self.out_data_n += 1
                self.relayed += len(p)
                st["out_bytes"] += len(p)
                st["out_data_msgs"] += 1
                if len(self.trace) < 64:
                    self._trace("S>C", "output_stream_data", seq, 0, 1, len(p))
                if not sendable:
                    continue
                om.last_sent = om.first_sent = now
                om.sends = 1
                if not faults:
                    frames.append(frame)
                    continue
                n = self.out_data_n
                if unk and n % unk == 0:
                    frames.append(ws_frame(encode_msg(_pad(c("unknown_message_type"))[:32], 0, 0, 0,
                                                      b'{"Note":"unknown message type, ignore me"}')))
                    st["unknown_sent"] += 1
                if bad and n % bad == 0:
                    wrong = bytes(x ^ 0xFF for x in digest[:4]) + digest[4:]
                    frames.append(ws_frame(HDR.pack(116, T_OUT, 1, ms, seq, 0, mid, wrong, 1, len(p)) + p))
                    st["corrupted_sent"] += 1
                elif reo and n % reo == 0 and self.held is None:
                    self.held = frame
                    st["reordered"] += 1
                else:
                    frames.append(frame)
                    if self.held is not None:
                        frames.append(self.held)
                        self.held = None
                    if dup and n % dup == 0:
                        frames.append(frame)
                        st["duplicates_sent"] += 1
                if drop_at and not self.drop_done and self.relayed >= drop_at:
                    self.drop_done = True
                    action = "drop"
                    sendable = False
                elif pause_at and not self.pause_done and self.relayed >= pause_at:
                    self.pause_done = True
                    action = "pause"
                    sendable = False
            if frames:
                ws.send(frames)
            if action == "drop":
                self._drop_locked("drop_after_bytes")
            elif action == "pause":
                self._pause_locked()
            if len(out_buf) > st["max_unacked"]:
                st["max_unacked"] = len(out_buf)

    def _drop_locked(self, why):
        ws = self.ws
        if ws is None:
            return
        log.info("session %s: %s: dropping websocket %d after %d bytes", self.sid, why, ws.n, self.relayed)
        self.stats["drops"] += 1
        ws.info["closed_by"] = why
        self.ws = None
        ws.abort()

    def _pause_locked(self):
        ms = float(self.cfg("pause_ms") or 0)
        log.info("session %s: pause_publication for %s ms", self.sid, ms)
        self.paused = True
        self.stats["pauses"] += 1
        self._trace("S>C", "pause_publication", 0, 0, 0, 0)
        self.send_control([ws_frame(encode_msg(T_PAUSE, 0, 0, 0, b""))])
        t = threading.Timer(ms / 1000.0, self._unpause)
        t.daemon = True
        t.start()

    def _unpause(self):
        with self.lock:
            if not self.paused:
                return
            self.paused = False
            self._trace("S>C", "start_publication", 0, 0, 0, 0)
            frames = [ws_frame(encode_msg(T_START, 0, 0, 0, b""))]
            now = time.time()
            for om in self.out_buf.values():
                if om.last_sent == 0.0:
                    om.last_sent = now
                    if not om.first_sent:
                        om.first_sent = now
                    om.sends += 1
                    frames.append(om.frame)
            self.send_control(frames)
            log.info("session %s: start_publication", self.sid)

    def _check_relay_thresholds(self):
        """Input side counterpart of the thresholds checked in _emit (lock held)."""
        drop_at = int(self.cfg("drop_after_bytes") or 0)
        if drop_at and not self.drop_done and self.relayed >= drop_at:
            self.drop_done = True
            self._drop_locked("drop_after_bytes")
        pause_at = int(self.cfg("pause_after_bytes") or 0)
        if pause_at and not self.pause_done and self.relayed >= pause_at:
            self.pause_done = True
            self._pause_locked()

    def _on_ack(self, payload):
        m = _ACK_RE.match(payload)
        if m is not None:       # fast path: the exact key order every known client emits
            mtype, mid, seq = m.group(1).decode(), m.group(2).decode(), int(m.group(3))
        else:
            try:
                j = json.loads(payload)
                seq = int(j["AcknowledgedMessageSequenceNumber"])
                mtype, mid = j.get("AcknowledgedMessageType"), j.get("AcknowledgedMessageId")
            except (ValueError, KeyError, TypeError, AttributeError):
                self.stats["bad_acks"] += 1
                return
        om = self.out_buf.pop(seq, None)
        if om is None:
            self.stats["acks_unknown"] += 1
            return
        self.stats["acks_received"] += 1
        if om.first_sent:
            # from the first send of a message to its ack (the longest)
            d = int((time.time() - om.first_sent) * 1000)
            if d > self.stats["max_ack_delay_ms"]:
                self.stats["max_ack_delay_ms"] = d
        if mtype != "output_stream_data":
            self.stats["ack_type_mismatch"] += 1
        if mid != wire_to_uuid(om.msgid):
            self.stats["ack_id_mismatch"] += 1
        if om.ptype != PT_OUTPUT:
            self._trace("C>S", "acknowledge", 0, None, 0, len(payload), {"acks": seq})
        if om.last_sent:
            s = time.time() - om.last_sent
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.rtt - s)
            self.rtt = 0.875 * self.rtt + 0.125 * s
            self.rto = min(self.rtt + max(0.010, 4 * self.rttvar), 1.0)
        self.cond.notify_all()

    # --- client -> agent
    def _ack_frame(self, mid, seq):
        payload = ('{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageId":"%s",'
                   '"AcknowledgedMessageSequenceNumber":%d,"IsSequentialMessage":true}'
                   % (wire_to_uuid(mid), seq)).encode()
        self.stats["acks_sent"] += 1
        return ws_frame(encode_msg(T_ACK, 0, 3, 0, payload))

    def on_frames(self, conn, msgs):
        acks = []
        st = self.stats
        with self.lock:
            if self.ws is not conn:
                st["frames_from_stale_ws"] += len(msgs)
                return
            # fast path for in-order Output when no input-side switch is active
            fast = (self.hs_state == "complete" and self.tcp_state == "connected"
                    and time.time() >= self.withhold_until
                    and not self.cfg("stop_acking_after_bytes")
                    and not (self.cfg("drop_after_bytes") and not self.drop_done)
                    and not (self.cfg("pause_after_bytes") and not self.pause_done))
            f_data, f_acks = [], []
            ms = now_ms()
            acks_here = 0
            for op, raw in msgs:
                if op != 2:
                    st["text_frames_after_open"] += 1
                n = len(raw)
                if n < 120:
                    raise ProtocolClose(1002, "ClientMessage shorter than 120 bytes")
                hl, mtype, sv, created, seq, flags, mid, digest, ptype, plen = HDR.unpack_from(raw)
                if hl != 116 or 120 + plen != n:
                    st["bad_header"] += 1
                    self.errors.append("bad header: HL %d PayloadLength %d frame %d" % (hl, plen, n))
                    raise ProtocolClose(1002, "bad ClientMessage header length")
                payload = raw[120:]
                if plen and _sha256(payload).digest() != digest:
                    st["digest_errors"] += 1
                    continue
                if created == 0:
                    st["created_date_zero"] += 1
                if sv != 1:
                    st["schema_version_errors"] += 1
                if mtype == T_IN:
                    if flags != 0:
                        st["input_flags_nonzero"] += 1
                    if fast and ptype == 1 and seq == self.in_expected and not self.in_buf:
                        self.in_expected = seq + 1
                        st["in_msgs"] += 1
                        st["in_bytes"] += plen
                        st["in_bytes_accepted"] += plen
                        st["in_data_msgs"] += 1
                        self.relayed += plen
                        h = (mid[8:] + mid[:8]).hex().encode()
                        ap = _ACK_FMT % (h[:8], h[8:12], h[12:16], h[16:20], h[20:], seq)
                        am = HDR.pack(116, T_ACK, 1, ms, 0, 3, new_msgid(), _sha256(ap).digest(), 0, len(ap)) + ap
                        f_acks.append(b"\x82\x7e" + len(am).to_bytes(2, "big") + am)
                        f_data.append(payload)
                        if len(self.trace) < 64:
                            self._trace("C>S", "input_stream_data", seq, 0, ptype, plen)
                        continue
                    if f_data:
                        st["acks_sent"] += len(f_acks)
                        self.tcp_q.put(("data", f_data, f_acks))
                        f_data, f_acks = [], []
                    self._on_input(seq, ptype, mid, payload, acks)
                    continue
                name = mtype.rstrip(b" ")
                if name != mtype.strip(b" \x00"):
                    st["type_padding_errors"] += 1
                if name == b"acknowledge":
                    if flags != 3:
                        st["ack_flags_errors"] += 1
                    acks_here += 1
                    self._on_ack(payload)
                elif name == b"input_stream_data":
                    st["type_padding_errors"] += 1
                    self._on_input(seq, ptype, mid, payload, acks)
                else:
                    st["unknown_types"] += 1
                    log.info("session %s: ignoring client message type %r", self.sid, name)
            if f_data:
                st["acks_sent"] += len(f_acks)
                self.tcp_q.put(("data", f_data, f_acks))
            if acks_here:
                # how the client's acks arrive: reads of the socket that
                # brought any, and the most in one read
                st["ack_reads"] += 1
                if acks_here > st["max_acks_per_read"]:
                    st["max_acks_per_read"] = acks_here
            if acks:
                conn.send(acks)

    def _ready(self):
        return self.tcp_state == "connected" and time.time() >= self.withhold_until

    def _on_input(self, seq, ptype, mid, payload, acks):
        st = self.stats
        st["in_msgs"] += 1
        if len(self.trace) < 64:
            self._trace("C>S", "input_stream_data", seq, 0, ptype, len(payload))
        stop_at = int(self.cfg("stop_acking_after_bytes") or 0)
        if stop_at and st["in_bytes_accepted"] >= stop_at:
            conn_n = self.ws.info.get("n") if self.ws is not None else None
            if self.silent_conn is None:
                self.silent_conn = conn_n
            if not self.cfg("stop_acking_once") or conn_n == self.silent_conn:
                st["ignored_after_stop_acking"] += 1
                return
        if self.hs_state == "complete" and time.time() < self.withhold_until:
            st["withheld"] += 1
            return
        if seq < self.in_expected or seq in self.in_buf:
            st["in_duplicates"] += 1
            acks.append(self._ack_frame(mid, seq))
            return
        if seq > self.in_expected:
            if len(self.in_buf) >= 100000:
                st["in_buffer_full"] += 1
                return
            st["in_out_of_order"] += 1
            if ptype == PT_OUTPUT:
                st["in_bytes_accepted"] += len(payload)
            self.in_buf[seq] = (ptype, mid, payload)
            acks.append(self._ack_frame(mid, seq))
            return
        if not self._process(seq, ptype, mid, payload, acks, False):
            return
        if ptype == PT_OUTPUT:
            st["in_bytes_accepted"] += len(payload)
        while self.in_expected in self.in_buf:
            ptype, mid, payload = self.in_buf[self.in_expected]
            if not self._process(self.in_expected, ptype, mid, payload, acks, True):
                break
            self.in_buf.pop(self.in_expected - 1, None)

    def _process(self, seq, ptype, mid, payload, acks, already_acked):
        """Deliver the in-order message `seq`; False = not ready (neither consumed nor acked)."""
        st = self.stats
        if ptype in (PT_HS_RESP, PT_ENC_RESP):
            if not already_acked:       # handshake: ack before processing (and before HandshakeComplete)
                self.send_control(acks + [self._ack_frame(mid, seq)])
                del acks[:]
            self.in_expected += 1
            if ptype == PT_HS_RESP:
                self._on_handshake_response(payload, seq)
            return True
        if self.hs_state != "complete":
            if not already_acked:
                acks.append(self._ack_frame(mid, seq))
            self.in_expected += 1
            st["data_before_handshake"] += 1
            return True
        if not self._ready():
            st["not_ready_drops"] += 1
            return False
        self.in_expected += 1
        ack = None if already_acked else self._ack_frame(mid, seq)
        if ptype == PT_OUTPUT:
            st["in_bytes"] += len(payload)
            st["in_data_msgs"] += 1
            self.relayed += len(payload)
            self.tcp_q.put(("data", [payload], [ack] if ack is not None else []))
            self._check_relay_thresholds()
        elif ptype == PT_FLAG:
            self.tcp_q.put(("flag", payload, ack))
        else:
            st["ignored_payload_types"] += 1
            if ack:
                acks.append(ack)
        return True

    def _on_handshake_response(self, payload, seq):
        problems = []
        if self.hs_state != "requested":
            self.stats["unexpected_handshake_responses"] += 1
            return
        if seq != 0:
            problems.append("HandshakeResponse at client sequence number %d, not 0" % seq)
        try:
            j = json.loads(payload)
            self.hs_response = j
            pcas = j.get("ProcessedClientActions") or []
            if not pcas:
                problems.append("no ProcessedClientActions")
            for a in pcas:
                if a.get("ActionStatus") != 1:
                    problems.append("%s status %s: %s" % (a.get("ActionType"), a.get("ActionStatus"), a.get("Error")))
            requested = ["SessionType"] + [a.get("ActionType") for a in (self.cfg("extra_handshake_actions") or [])]
            got = [a.get("ActionType") for a in pcas]
            if sorted(got) != sorted(requested):
                problems.append("ProcessedClientActions %s do not answer %s" % (got, requested))
        except (ValueError, AttributeError):
            problems.append("HandshakeResponse is not JSON")
        if problems:
            self.hs_state = "failed"
            self.errors.extend(problems)
            log.info("session %s: handshake failed: %s", self.sid, problems)
            threading.Thread(target=self.end, args=("Handshake failed: " + "; ".join(problems),),
                             kwargs={"reason": "handshake failed"}, daemon=True).start()
            return
        took = int((time.time() - (self.hs_sent or time.time())) * 1e9)
        self.hs_state = "complete"
        self.hs_done_time = time.time()
        done = json.dumps({"HandshakeTimeToComplete": took, "CustomerMessage": self.cfg("customer_message") or ""},
                          separators=(",", ":")).encode()
        self._queue_out(PT_HS_DONE, done)
        wh = float(self.cfg("withhold_acks_ms") or 0)
        self.withhold_until = time.time() + wh / 1000.0 if wh else 0.0
        giant = self.cfg("giant_frame")
        if giant and self.ws is not None:
            n = giant if isinstance(giant, int) and giant > 1 else (1 << 40)
            self.stats["giant_frames"] += 1
            self.ws.send_raw(struct.pack(">BBQ", 0x82, 127, n) + b"\0" * 64)
        self.tcp_state = "connecting"
        threading.Thread(target=self._tcp_main, name="%s-tcp" % self.sid[-6:], daemon=True).start()

    # --- the TCP target
    def _tcp_main(self):
        try:
            sock = socket.create_connection(self.target_addr, timeout=10)
        except OSError as e:
            log.info("session %s: cannot connect to %s: %s", self.sid, self.target_addr, e)
            with self.lock:
                self.tcp_state = "failed"
            self.end("Unable to start port session: dial tcp %s:%d: %s" % (self.target_addr + (e,)),
                     reason="target connect failed")
            return
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            if self.ended:
                sock.close()
                return
            self.tcp = sock
            self.tcp_q = queue.SimpleQueue()
            self.tcp_state = "connected"
        log.info("session %s: connected to target %s:%d", self.sid, *self.target_addr)
        threading.Thread(target=self._tcp_writer, name="%s-tw" % self.sid[-6:], daemon=True).start()
        read_size = int(self.cfg("read_size"))
        while True:
            try:
                data = sock.recv(read_size)
            except OSError:
                data = b""
            if not data:
                break
            chunk = int(self.cfg("chunk_size"))
            pace = float(self.cfg("pace_ms") or 0)
            if pace > 0:
                for off in range(0, len(data), chunk):
                    self._wait_window()
                    self._emit([data[off:off + chunk]])
                    time.sleep(pace / 1000.0)
            else:
                self._wait_window()
                if len(data) <= chunk:
                    self._emit([data])
                else:
                    self._emit([data[off:off + chunk] for off in range(0, len(data), chunk)])
            if self.ended:
                break
        self._on_target_eof()

    def _tcp_writer(self):
        q = self.tcp_q
        sock = self.tcp
        broken = False
        while True:
            item = q.get()
            items = [item]
            size = 0
            while item is not None and size < 1 << 20:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                items.append(item)
                if item is not None and item[0] == "data":
                    size += 1024 * len(item[1])
            datas, acks = [], []
            for it in items:
                if it is None:
                    break
                if it[0] == "data":
                    datas.extend(it[1])
                    acks.extend(it[2])
                    continue
                # a flag: deliver pending data first
                broken = self._flush_tcp(sock, datas, acks, broken)
                datas, acks = [], []
                self._on_flag(it[1], it[2])
            broken = self._flush_tcp(sock, datas, acks, broken)
            if items[-1] is None:
                return

    def _flush_tcp(self, sock, datas, acks, broken):
        if datas and not broken:
            try:
                sock.sendall(b"".join(datas))
            except OSError as e:
                log.info("session %s: target write failed: %s", self.sid, e)
                broken = True
        if acks and not broken:
            with self.lock:
                self.send_control(acks)
        return broken

    def _on_flag(self, payload, ack):
        v = struct.unpack(">I", payload[:4])[0] if len(payload) >= 4 else -1
        name = FLAG_NAMES.get(v, str(v))
        self.flags.append(name)
        log.info("session %s: client flag %s", self.sid, name)
        with self.lock:
            if ack is not None:
                self.send_control([ack])
        if v == 2:
            self.stats["terminate_flag"] += 1
            self.end("", reason="TerminateSession flag")
        elif v == 1:
            self.stats["disconnect_flag"] += 1
            try:
                self.tcp.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _on_target_eof(self):
        with self.lock:
            if self.ended:
                return
            self.tcp_state = "closed"
            if self.held is not None and self.ws is not None:
                self.ws.send([self.held])
                self.held = None
        log.info("session %s: target EOF; draining %d unacked", self.sid, len(self.out_buf))
        deadline = time.time() + float(self.cfg("resume_wait"))
        with self.cond:
            while self.ws is None and not self.ended and time.time() < deadline:
                self.cond.wait(0.1)
            deadline = time.time() + float(self.cfg("drain_timeout"))
            while self.out_buf and not self.ended and time.time() < deadline:
                self.cond.wait(0.05)
            if self.out_buf:
                self.stats["unacked_at_close"] = len(self.out_buf)
        self.end(self.cfg("close_with_error") or "", reason="target EOF")

    # --- timers: retransmission and handshake timeout
    def _timer(self):
        while not self.ended and not STOPPING.is_set():
            self.wake.wait(0.1)
            if self.ended:
                return
            with self.lock:
                now = time.time()
                if (self.hs_state == "requested" and self.hs_sent
                        and now - self.hs_sent > float(self.cfg("handshake_timeout"))):
                    self.hs_state = "failed"
                    self.errors.append("no HandshakeResponse within %ss" % self.cfg("handshake_timeout"))
                    threading.Thread(target=self.end, args=("Handshake timed out",),
                                     kwargs={"reason": "handshake timeout"}, daemon=True).start()
                    continue
                ws = self.ws
                if ws is None or self.paused or not self.out_buf:
                    continue
                om = next(iter(self.out_buf.values()))
                if now - om.last_sent > self.rto:
                    if not om.first_sent:
                        om.first_sent = now
                    else:
                        self.stats["out_retransmissions"] += 1
                    om.last_sent = now
                    om.sends += 1
                    ws.send([om.frame])

    # --- the end
    def channel_closed_frame(self, output, hl112):
        mid = new_msgid()
        payload = json.dumps({"MessageType": "channel_closed", "MessageId": wire_to_uuid(mid),
                              "CreatedDate": _iso(time.time()), "DestinationId": self.target,
                              "SessionId": self.sid, "SchemaVersion": 1, "Output": output},
                             separators=(",", ":")).encode()
        if hl112:
            msg = HDR112.pack(112, b"channel_closed".ljust(32, b"\0"), 1, now_ms(), 0, 0, mid,
                              _sha256(payload).digest(), len(payload)) + payload
        else:
            msg = encode_msg(T_CLOSED, 0, 0, 0, payload, mid)
        return ws_frame(msg)

    def end(self, output="", reason="", hl112=None, hard=False):
        with self.lock:
            if self.ended:
                return
            self.ended = True
            self.end_reason = reason
            self.end_output = output
            ws = self.ws
            tcp = self.tcp
            self.cond.notify_all()
        self.wake.set()
        log.info("session %s: ended (%s) output=%r", self.sid, reason, output)
        with STATE.lock:
            for t, (sid, _k) in list(STATE.tokens.items()):
                if sid == self.sid:
                    del STATE.tokens[t]
        with self.lock:
            if self.out_buf:
                self.stats["unacked_at_end"] = len(self.out_buf)
            self.out_buf.clear()          # free the memory of ended sessions; stats stay
            self.in_buf.clear()
            self.held = None
        if tcp is not None:
            try:
                tcp.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                tcp.close()
            except OSError:
                pass
        if self.tcp_q is not None:
            self.tcp_q.put(None)
        if ws is not None:
            if not hard:
                if hl112 is None:
                    hl112 = bool(self.cfg("channel_closed_hl112"))
                self._trace("S>C", "channel_closed", 0, 0, None if hl112 else 0, None, {"hl112": hl112})
                ws.send([self.channel_closed_frame(output, hl112)])
                ws.close(1000, "")
            else:
                ws.abort()

    def to_json(self):
        with self.lock:
            st = dict(self.stats)
            for k in ("in_bytes", "out_bytes", "in_msgs", "in_data_msgs", "out_data_msgs", "acks_sent",
                      "acks_received", "in_duplicates", "out_retransmissions", "terminate_flag",
                      "client_close_frames", "digest_errors", "bad_header", "ack_reads",
                      "max_acks_per_read", "max_ack_delay_ms"):
                st.setdefault(k, 0)
            return {
                "SessionId": self.sid, "Created": round(self.created, 3), "Target": self.target,
                "Region": self.region,
                "DocumentName": self.document, "PortNumber": self.port_number, "Reason": self.reason,
                "TargetAddr": "%s:%d" % self.target_addr, "StreamUrl": self.stream_url,
                "status": ("ended" if self.ended else "connected" if self.ws is not None else "disconnected"),
                "ended": self.ended, "end_reason": self.end_reason, "end_output": self.end_output,
                "terminated_by_api": self.terminated_by_api, "resumes": self.resumes,
                "handshake": {"state": self.hs_state, "response": self.hs_response},
                "tcp_state": self.tcp_state, "paused": self.paused,
                "out_seq": self.out_seq, "in_expected": self.in_expected, "unacked": len(self.out_buf),
                "in_buffered": len(self.in_buf),
                "rtt_ms": round(self.rtt * 1000, 3), "rttvar_ms": round(self.rttvar * 1000, 3),
                "rto_ms": round(self.rto * 1000, 3),
                "client_ids": list(self.client_ids), "flags": list(self.flags),
                "terminate_flag": bool(self.stats["terminate_flag"]),
                "client_close_frame": any(c.get("client_close_frame") is not None for c in self.connects),
                "connects": [dict(c) for c in self.connects],
                "rejected_connects": [dict(c) for c in self.rejected_connects],
                "errors": list(self.errors), "stats": st, "trace": list(self.trace),
            }



# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def parse_keys(s):
    out = {}
    for item in (s or "").split(","):
        item = item.strip()
        if not item:
            continue
        p = item.split(":")
        if len(p) == 2:
            out[p[0]] = p[1]
        elif len(p) >= 3:
            out[p[0]] = {"secret": p[1], "token": ":".join(p[2:])}
        else:
            raise SystemExit("--keys wants AK:SK[:TOKEN],...")
    return out


def main(argv=None):
    global CFG, STATE, SERVER
    ap = argparse.ArgumentParser(description="cloudx-proxy AWS stand-in (SSM, EIC, SSO, data channel)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--log", help="log file (default: stderr)")
    ap.add_argument("--log-level", default="INFO")
    ap.add_argument("--moto", help="moto_server base URL")
    ap.add_argument("--moto-key", help="AK:SK used to sign calls to moto")
    ap.add_argument("--target", help="default TCP target HOST:PORT for sessions")
    ap.add_argument("--keys", help="AK:SK[:TOKEN],... known keys (enables signature checks)")
    ap.add_argument("--region")
    ap.add_argument("--config", help="JSON file merged into the default config")
    ap.add_argument("--set", action="append", default=[], metavar="JSON",
                    help="JSON object merged into the config (repeatable)")
    for k in ("online_delay", "key_ttl", "pace_ms"):
        ap.add_argument("--" + k.replace("_", "-"), type=float)
    ap.add_argument("--sshd-instance")
    ap.add_argument("--require-sigv4", action="store_true")
    ap.add_argument("--require-ws-sigv4", action="store_true")
    a = ap.parse_args(argv)

    if a.bind not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("refusing to bind to a non-loopback address")
    handler = logging.FileHandler(a.log) if a.log else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(threadName)s %(levelname)s %(message)s",
                                           "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(a.log_level.upper())

    cfg = copy.deepcopy(DEFAULT_CONFIG)
    if a.config:
        with open(a.config) as f:
            cfg = merge_patch(cfg, json.load(f))
    for s in a.set:
        cfg = merge_patch(cfg, json.loads(s))
    if a.moto is not None:
        cfg["moto_url"] = a.moto or None
    if a.moto_key:
        cfg["moto_key"] = a.moto_key
    if a.target:
        cfg["target"] = a.target
    if a.keys:
        cfg["keys"] = parse_keys(a.keys)
    if a.region:
        cfg["region"] = a.region
    for k in ("online_delay", "key_ttl", "pace_ms"):
        if getattr(a, k) is not None:
            cfg[k] = getattr(a, k)
    if a.sshd_instance:
        cfg["sshd_instance"] = a.sshd_instance
    if a.require_sigv4:
        cfg["require_sigv4"] = True
    if a.require_ws_sigv4:
        cfg["require_ws_sigv4"] = True
    CFG = Config(cfg)
    STATE = State()
    SERVER = Server((a.bind, a.port), Handler)
    port = SERVER.server_address[1]

    def on_term(signum, frame):
        log.info("signal %d: shutting down", signum)
        STOPPING.set()
        STATE.hang_event.set()
        threading.Thread(target=SERVER.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    else:
        print(port, flush=True)
    log.info("listening on %s:%d (pid %d)", a.bind, port, os.getpid())
    try:
        SERVER.serve_forever(poll_interval=0.05)
    finally:
        with STATE.lock:
            sessions = list(STATE.sessions.values())
        for s in sessions:
            try:
                s.end("", reason="shutdown", hard=True)
            except Exception:
                pass
        SERVER.server_close()
        log.info("stopped")
        logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
