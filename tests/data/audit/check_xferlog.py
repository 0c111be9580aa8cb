#!/usr/bin/python3
"""Independent checker of Ferry's xferlog output against the documented field order
(gateway/audit.h, audit_xferlog_line; the wu-ftpd xferlog(5) / ProFTPD layout):

  current-time(5 fields: Www Mmm dd hh:mm:ss yyyy, local time) transfer-time remote-host
  file-size filename transfer-type special-action direction access-mode username
  service-name authentication-method authenticated-user-id completion-status

usage: check_xferlog.py XFERLOG AUDIT.jsonl [AUDIT.jsonl...]
Every upload/download record of the audit files (in order) must have exactly one
xferlog line, in the same order, and nothing else may be in the xferlog. The time is
checked against the record's ts converted with the TZ of the environment. Exits 0 when
all is well, else prints the first problem and exits 1."""
import json
import sys
import time
import calendar


def fail(msg):
    print("check_xferlog: " + msg)
    sys.exit(1)


def addr(remote):
    if remote.startswith("["):
        return remote[1:remote.index("]")]
    host, _, port = remote.rpartition(":")
    return host if host and ":" not in host else remote


def field(v):
    """A value as one space-free field: ProFTPD's rule, spaces and controls become '_'."""
    if not v:
        return "*"
    return "".join("_" if ord(c) <= 0x20 or ord(c) == 0x7f else c for c in v)


def main():
    lines = open(sys.argv[1], "rb").read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    recs = []
    for f in sys.argv[2:]:
        for raw in open(f, "rb"):
            r = json.loads(raw)
            if r["event"] in ("upload", "download"):
                recs.append(r)
    if len(lines) != len(recs):
        fail("%d xferlog lines for %d transfer records" % (len(lines), len(recs)))
    for n, (line, r) in enumerate(zip(lines, recs), 1):
        f = line.split(" ")
        # the day of the month is padded to two characters with a space ("Nov  1")
        if len(f) == 19 and f[2] == "":
            del f[2]
        if len(f) != 18:
            fail("line %d: %d fields: %r" % (n, len(f), line))
        ts = calendar.timegm(time.strptime(r["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
        want_time = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(ts)).split()
        want_time[2] = str(int(want_time[2]))
        got_time = f[0:5]
        if got_time != want_time:
            fail("line %d: time %r, want %r" % (n, got_time, want_time))
        secs = int(f[5])
        want_secs = max(1, (r.get("duration_ms", 0) + 500) // 1000)
        if secs != want_secs:
            fail("line %d: transfer-time %d, want %d" % (n, secs, want_secs))
        if f[6] != addr(r.get("remote", "*")):
            fail("line %d: remote-host %r for %r" % (n, f[6], r.get("remote")))
        if int(f[7]) != r.get("bytes", 0):
            fail("line %d: file-size %s, want %d" % (n, f[7], r.get("bytes", 0)))
        want_path = field(r.get("path"))
        if f[8] != want_path:
            fail("line %d: filename %r, want %r" % (n, f[8], want_path))
        if f[9] != "b" or f[10] != "_":
            fail("line %d: transfer-type/special-action %r %r" % (n, f[9], f[10]))
        if f[11] != ("i" if r["event"] == "upload" else "o"):
            fail("line %d: direction %r for %s" % (n, f[11], r["event"]))
        user = r.get("user") or "*"
        if f[12] != ("a" if user in ("anonymous", "ftp") else "r"):
            fail("line %d: access-mode %r" % (n, f[12]))
        if f[13] != field(user):
            fail("line %d: username %r, want %r" % (n, f[13], user))
        if f[14] != r.get("proto", "ftp"):
            fail("line %d: service-name %r" % (n, f[14]))
        if f[15] != "0" or f[16] != "*":
            fail("line %d: authentication fields %r %r" % (n, f[15], f[16]))
        if f[17] != ("c" if r["status"] == "ok" else "i"):
            fail("line %d: completion-status %r for %s" % (n, f[17], r["status"]))
    print("check_xferlog: %d lines ok" % len(lines))


if __name__ == "__main__":
    main()
