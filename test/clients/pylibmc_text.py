#!/usr/bin/python3
"""Siberite through Debian's python3-pylibmc (libmemcached), text protocol: prints one JSON object.

Usage: pylibmc_text.py PORT
"""
import json
import sys

import pylibmc

port = int(sys.argv[1])
mc = pylibmc.Client([f"127.0.0.1:{port}"], binary=False)
out = {}

out["set"] = [bool(mc.set("plq", f"v{i}".encode())) for i in range(3)]
out["fifo"] = [v.decode() if isinstance(v, bytes) else v for v in (mc.get("plq") for _ in range(3))]
out["empty"] = mc.get("plq")

blob = bytes(range(256)) * 4 + b"\r\nEND\r\n"
mc.set("plbin", blob)
got = mc.get("plbin")
out["binary_ok"] = got == blob
out["binary_len"] = len(got) if got is not None else None

mc.set("plint", 42)
out["int"] = mc.get("plint")

mc.set("plwork", b"job")
got = mc.get("plwork/open")
out["open"] = got.decode() if got is not None else None
out["close"] = mc.get("plwork/close")
out["after_close"] = mc.get("plwork")

mc.disconnect_all()
print(json.dumps(out))
