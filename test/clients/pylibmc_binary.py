#!/usr/bin/python3
"""Siberite through Debian's python3-pylibmc (libmemcached), binary protocol: prints one JSON object.

libmemcached's binary get sends GETK and matches the reply by the echoed key.

Usage: pylibmc_binary.py PORT
"""
import json
import sys

import pylibmc

port = int(sys.argv[1])
mc = pylibmc.Client([f"127.0.0.1:{port}"], binary=True)
out = {}


def text(v):
    return v.decode() if isinstance(v, bytes) else v


out["set"] = [bool(mc.set("pbq", f"v{i}".encode())) for i in range(3)]
out["fifo"] = [text(mc.get("pbq")) for _ in range(3)]
out["empty"] = mc.get("pbq")

blob = bytes(range(256)) * 4 + b"\r\nEND\r\n"
mc.set("pbbin", blob)
got = mc.get("pbbin")
out["binary_ok"] = got == blob

# pylibmc keeps its type marker in the flags: an int comes back as an int only if they round-trip.
mc.set("pbint", 42)
out["int"] = mc.get("pbint")
mc.set("pbint", {"a": [1, 2]})  # pickled, another flag
out["pickled"] = mc.get("pbint")

mc.set("pbwork", b"job-1")
mc.set("pbwork", b"job-2")
out["open"] = text(mc.get("pbwork/open"))
out["close"] = mc.get("pbwork/close")
out["after_close"] = text(mc.get("pbwork/open"))
out["abort"] = mc.get("pbwork/abort")
out["after_abort"] = text(mc.get("pbwork/close/open"))
out["final_close"] = mc.get("pbwork/close")
out["drained"] = mc.get("pbwork")

mc.disconnect_all()
print(json.dumps(out))
