#!/usr/bin/python3
"""Siberite through Debian's python3-pylibmc (libmemcached), binary protocol with SASL PLAIN.

Prints one JSON object. Usage: security_pylibmc_sasl.py PORT USER PASSWORD
(USER may write the queue jobs_pylibmc, and not outside_pylibmc).
"""
import json
import sys

import pylibmc

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
server = [f"127.0.0.1:{port}"]
out = {}

mc = pylibmc.Client(server, binary=True, username=user, password=password)
out["set"] = bool(mc.set("jobs_pylibmc", b"from-pylibmc"))
got = mc.get("jobs_pylibmc")
out["get"] = got.decode() if isinstance(got, bytes) else got
try:
    out["denied_set"] = bool(mc.set("outside_pylibmc", b"x"))
except pylibmc.Error:
    out["denied_set"] = False
mc.disconnect_all()

bad = pylibmc.Client(server, binary=True, username=user, password=password + "-wrong")
try:
    bad.set("jobs_pylibmc", b"evil")
    out["wrong_password"] = "accepted"
except pylibmc.Error:
    out["wrong_password"] = "refused"
bad.disconnect_all()

print(json.dumps(out))
