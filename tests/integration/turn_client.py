"""A small TURN client for tests, written from RFC 8489/8656 with the Python standard library
only — independent of our C code, so it checks the server from outside. It can also build
messages that are wrong on purpose (bad integrity, wrong realm, unknown attributes,
truncation) for the abuse tests.

Used by tests/integration/test_turn_*.sh; never sends anywhere but the server and peer
addresses the test gives it (loopback).
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import time
import zlib

MAGIC = 0x2112A442
BINDING, ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 1, 3, 4, 6, 7, 8, 9
REQUEST, INDICATION, SUCCESS, ERROR = 0, 1, 2, 3

A_USERNAME, A_MI, A_ERROR, A_UNKNOWN = 0x0006, 0x0008, 0x0009, 0x000A
A_CHANNEL, A_LIFETIME, A_PEER, A_DATA = 0x000C, 0x000D, 0x0012, 0x0013
A_REALM, A_NONCE, A_RELAYED, A_RFAMILY = 0x0014, 0x0015, 0x0016, 0x0017
A_EVEN_PORT, A_TRANSPORT, A_DF, A_MAPPED, A_TOKEN = 0x0018, 0x0019, 0x001A, 0x0020, 0x0022
A_FINGERPRINT = 0x8028


def msg_type(method, cls):
    return ((method & 0xF80) << 2) | ((method & 0x070) << 1) | (method & 0x00F) | \
           ((cls & 2) << 7) | ((cls & 1) << 4)


def split_type(t):
    method = ((t & 0x3E00) >> 2) | ((t & 0x00E0) >> 1) | (t & 0x000F)
    cls = ((t & 0x0100) >> 7) | ((t & 0x0010) >> 4)
    return method, cls


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def xor_addr(ip, port, tid):
    if ":" in ip:
        raw = socket.inet_pton(socket.AF_INET6, ip)
        key = struct.pack("!I", MAGIC) + tid
        return struct.pack("!BBH", 0, 2, port ^ (MAGIC >> 16)) + bytes(a ^ b for a, b in zip(raw, key))
    raw = socket.inet_aton(ip)
    return struct.pack("!BBH", 0, 1, port ^ (MAGIC >> 16)) + bytes(a ^ b for a, b in zip(raw, struct.pack("!I", MAGIC)))


def parse_xor_addr(v, tid):
    fam, xport = v[1], struct.unpack("!H", v[2:4])[0]
    port = xport ^ (MAGIC >> 16)
    if fam == 1:
        ip = socket.inet_ntoa(bytes(a ^ b for a, b in zip(v[4:8], struct.pack("!I", MAGIC))))
    else:
        key = struct.pack("!I", MAGIC) + tid
        ip = socket.inet_ntop(socket.AF_INET6, bytes(a ^ b for a, b in zip(v[4:20], key)))
    return ip, port


class Message:
    def __init__(self, method, cls, tid, attrs):
        self.method, self.cls, self.tid, self.attrs = method, cls, tid, attrs

    def get(self, t):
        for k, v in self.attrs:
            if k == t:
                return v
        return None

    def all(self, t):
        return [v for k, v in self.attrs if k == t]

    @property
    def code(self):
        v = self.get(A_ERROR)
        return None if v is None else v[2] * 100 + v[3]


def parse(b):
    if len(b) < 20:
        return None
    t, length, cookie = struct.unpack("!HHI", b[:8])
    if cookie != MAGIC or len(b) < 20 + length:
        return None
    method, cls = split_type(t)
    tid, attrs, off = b[8:20], [], 20
    while off + 4 <= 20 + length:
        at, al = struct.unpack("!HH", b[off:off + 4])
        attrs.append((at, b[off + 4:off + 4 + al]))
        off += 4 + al + (4 - al % 4) % 4
    return Message(method, cls, tid, attrs)


def build(method, cls, attrs, tid=None, key=None, fingerprint=False):
    tid = tid or os.urandom(12)
    body = b"".join(attr(t, v) for t, v in attrs)
    if key is not None:
        hdr = struct.pack("!HHI", msg_type(method, cls), len(body) + 24, MAGIC) + tid
        mac = hmac.new(key, hdr + body, hashlib.sha1).digest()
        body += attr(A_MI, mac)
    if fingerprint:
        hdr = struct.pack("!HHI", msg_type(method, cls), len(body) + 8, MAGIC) + tid
        crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += attr(A_FINGERPRINT, struct.pack("!I", crc))
    return struct.pack("!HHI", msg_type(method, cls), len(body), MAGIC) + tid + body


def lt_key(user, realm, password):
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).digest()


def rest_credentials(secret, identity, ttl=3600, expiry=None):
    expiry = int(time.time()) + ttl if expiry is None else expiry
    user = f"{expiry}:{identity}"
    pw = base64.b64encode(hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest()).decode()
    return user, pw


class TurnError(Exception):
    def __init__(self, code, msg=None):
        super().__init__(f"TURN error {code}")
        self.code, self.msg = code, msg


class Client:
    """A UDP TURN client with the long-term credential mechanism (RFC 8489 §9.2)."""

    def __init__(self, server, user=None, password=None, bind=("127.0.0.1", 0), timeout=2.0):
        fam = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind(bind)
        self.sock.settimeout(timeout)
        self.server, self.user, self.password = server, user, password
        self.realm = self.nonce = self.key = None
        self.pending = []  # datagrams that were not the awaited response
        self.stale_count = 0

    def close(self):
        self.sock.close()

    def raw(self, data):
        self.sock.sendto(data, self.server)

    def recv(self, timeout=None):
        if self.pending:
            return self.pending.pop(0)
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            return self.sock.recvfrom(70000)[0]
        except socket.timeout:
            return None

    def _await(self, tid, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.sock.settimeout(max(0.01, deadline - time.time()))
                data = self.sock.recvfrom(70000)[0]
            except socket.timeout:
                break
            m = parse(data)
            if m and m.tid == tid and m.cls in (SUCCESS, ERROR):
                return m
            self.pending.append(data)
        return None

    def transact(self, method, attrs, sign=True, tid=None, key=None, realm=None, timeout=2.0, retries=3):
        """One request/response (with retransmission); returns the Message or None."""
        a = list(attrs)
        k = None
        if sign and self.nonce:
            a += [(A_USERNAME, self.user.encode()), (A_REALM, (realm or self.realm).encode()),
                  (A_NONCE, self.nonce.encode())]
            k = key or self.key
        tid = tid or os.urandom(12)
        data = build(method, REQUEST, a, tid=tid, key=k)
        for _ in range(retries):
            self.raw(data)
            m = self._await(tid, timeout / retries)
            if m:
                return m
        return None

    def request(self, method, attrs=(), max_challenges=3):
        """A request with the 401/438 dance; raises TurnError on an error answer."""
        for _ in range(max_challenges + 1):
            m = self.transact(method, attrs)
            if m is None:
                raise TurnError(None, "no answer")
            if m.cls == SUCCESS:
                return m
            code = m.code
            if code in (401, 438) and m.get(A_NONCE) is not None:
                had = self.nonce is not None
                self.realm = m.get(A_REALM).decode()
                self.nonce = m.get(A_NONCE).decode()
                self.key = lt_key(self.user, self.realm, self.password)
                if code == 438:
                    self.stale_count += 1
                    continue
                if had and code == 401:
                    raise TurnError(401, m)
                continue
            raise TurnError(code, m)
        raise TurnError(None, "too many challenges")

    def allocate(self, extra=()):
        m = self.request(ALLOCATE, [(A_TRANSPORT, bytes([17, 0, 0, 0]))] + list(extra))
        self.relayed = parse_xor_addr(m.get(A_RELAYED), m.tid)
        return self.relayed

    def refresh(self, lifetime):
        return self.request(REFRESH, [(A_LIFETIME, struct.pack("!I", lifetime))])

    def permit(self, ip, port=0):
        return self.request_tid(CREATE_PERMISSION, lambda t: [(A_PEER, xor_addr(ip, port, t))])

    def bind(self, channel, ip, port):
        return self.request_tid(CHANNEL_BIND, lambda t: [(A_CHANNEL, struct.pack("!HH", channel, 0)),
                                                        (A_PEER, xor_addr(ip, port, t))])

    def request_tid(self, method, make_attrs):
        """Like request(), for attributes that depend on the transaction ID (XOR addresses)."""
        for _ in range(4):
            tid = os.urandom(12)
            m = self.transact(method, make_attrs(tid), tid=tid)
            if m is None:
                raise TurnError(None, "no answer")
            if m.cls == SUCCESS:
                return m
            if m.code in (401, 438) and m.get(A_NONCE) is not None and m.code == 438:
                self.nonce = m.get(A_NONCE).decode()
                self.stale_count += 1
                continue
            if m.code == 401 and self.nonce is None and m.get(A_NONCE) is not None:
                self.realm = m.get(A_REALM).decode()
                self.nonce = m.get(A_NONCE).decode()
                self.key = lt_key(self.user, self.realm, self.password)
                continue
            raise TurnError(m.code, m)
        raise TurnError(None, "too many challenges")

    def send_channel(self, channel, payload):
        self.raw(struct.pack("!HH", channel, len(payload)) + payload)

    def recv_channel(self, timeout=2.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            d = self.recv(max(0.01, deadline - time.time()))
            if d is None:
                return None
            if len(d) >= 4 and (d[0] & 0xC0) == 0x40:
                ch, ln = struct.unpack("!HH", d[:4])
                return ch, d[4:4 + ln]
        return None


def udp_peer(bind=("127.0.0.1", 0)):
    s = socket.socket(socket.AF_INET6 if ":" in bind[0] else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(bind)
    s.settimeout(2.0)
    return s
