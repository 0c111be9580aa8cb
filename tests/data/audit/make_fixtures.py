#!/usr/bin/python3
"""Writes the audit-log fixtures with an implementation independent of gateway/audit.c
(Python's json and hashlib/hmac), so the C writer and verifier are checked against
the format as documented in gateway/audit.h rather than against themselves:

    hash = SHA-256(prev_raw_32_bytes + canonical)       (HMAC-SHA256 keyed with the key)
    canonical = the line up to, not including, ',"hash":', followed by '}'

Run from the repository root: /usr/bin/python3 tests/data/audit/make_fixtures.py"""
import hashlib
import hmac
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = b"ferry-test-key-0123456789"

RECORDS = [
    {"ts": "2026-11-28T14:03:07.123Z", "event": "login", "proto": "ftp",
     "session": "00000000000000a1", "user": "alice", "remote": "192.0.2.7:50122",
     "status": "ok"},
    {"ts": "2026-11-28T14:03:08.000Z", "event": "upload", "proto": "ftp",
     "session": "00000000000000a1", "user": "alice", "remote": "192.0.2.7:50122",
     "path": "/in/report 2026.csv", "bytes": 1048576, "offset": 0, "size": 1048576,
     "duration_ms": 412, "status": "ok",
     "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"ts": "2026-11-28T14:05:00.999Z", "event": "rename", "proto": "sftp",
     "session": "00000000000000b2", "user": "bob", "remote": "[2001:db8::5]:40022",
     "path": "/caf\u00e9/\"quoted\"\\back", "path2": "/tab\there/\u65e5\u672c\U0001F600",
     "status": "ok"},
    {"ts": "2026-11-29T00:00:00.000Z", "event": "download", "proto": "webdav",
     "session": "00000000000000c3", "user": "carol", "remote": "198.51.100.9:443",
     "path": "/pub/big.iso", "bytes": 5000000000, "offset": 4294967296,
     "size": 9294967296, "duration_ms": 61000, "status": "aborted",
     "error": "connection reset\nby peer\x01"},
    {"ts": "2026-11-29T00:00:01.500Z", "event": "login_failed", "proto": "ftps",
     "session": "00000000000000d4", "user": "mallory", "remote": "203.0.113.66:1234",
     "status": "failed", "error": "bad password"},
]


def dumps_str(s):
    # The writer's escaping: \" \\ \n \r \t, other controls as \u00XX (lowercase hex),
    # everything else (UTF-8 included) as is.
    out = []
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


ORDER = ["ts", "event", "proto", "session", "user", "remote", "path", "path2", "bytes",
         "offset", "size", "duration_ms", "status", "error", "sha256"]


def chain(records, key):
    prev = "0" * 64
    lines = []
    for r in records:
        parts = []
        for k in ORDER:
            if k in r:
                v = r[k]
                parts.append(dumps_str(k) + ":" + (str(v) if isinstance(v, int) else dumps_str(v)))
        parts.append('"prev":' + dumps_str(prev))
        canon = ("{" + ",".join(parts) + "}").encode()
        data = bytes.fromhex(prev) + canon
        h = (hmac.new(key, data, hashlib.sha256) if key else hashlib.sha256(data)).hexdigest()
        line = canon[:-1] + b',"hash":"' + h.encode() + b'"}\n'
        json.loads(line)  # it is JSON
        lines.append(line)
        prev = h
    return b"".join(lines)


def main():
    with open(os.path.join(HERE, "plain.jsonl"), "wb") as f:
        f.write(chain(RECORDS, None))
    with open(os.path.join(HERE, "keyed.jsonl"), "wb") as f:
        f.write(chain(RECORDS, KEY))
    with open(os.path.join(HERE, "key"), "wb") as f:
        f.write(KEY + b"\n")


if __name__ == "__main__":
    main()
