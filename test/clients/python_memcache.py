#!/usr/bin/python3
"""Siberite through Debian's python3-memcache (python-memcached): prints one JSON object.

Usage: python_memcache.py PORT
"""
import json
import sys

import memcache

port = int(sys.argv[1])
mc = memcache.Client([f"127.0.0.1:{port}"], socket_timeout=3, dead_retry=0)
out = {}

# FIFO on one queue: set returns True for STORED.
out["set"] = [bool(mc.set("pyq", f"item-{i}")) for i in range(5)]
out["fifo"] = [mc.get("pyq") for _ in range(5)]
# An empty queue reads as a miss.
out["empty"] = mc.get("pyq")

# Flags carry python-memcached's serialisation: int (flag 2) and pickle (flag 1).
mc.set("pytypes", 12345)
mc.set("pytypes", {"a": [1, 2, 3], "b": "x"})
out["int"] = mc.get("pytypes")
out["obj"] = mc.get("pytypes")

# Reliable read: open, then close; the queue is then empty.
mc.set("pywork", "job-1")
mc.set("pywork", "job-2")
out["open"] = mc.get("pywork/open")
out["close"] = mc.get("pywork/close")
out["after_close"] = mc.get("pywork")
out["drained"] = mc.get("pywork")

# An aborted read goes back to the head.
mc.set("pyabort", "a1")
mc.set("pyabort", "a2")
out["abort_open"] = mc.get("pyabort/open")
out["abort"] = mc.get("pyabort/abort")
out["abort_again"] = mc.get("pyabort")
out["abort_next"] = mc.get("pyabort")

stats = mc.get_stats()
out["stats_items"] = stats[0][1].get("queue_pyq_items") if stats else None
out["version_ok"] = bool(stats) and stats[0][1].get("version", "").startswith("siberite-")

mc.disconnect_all()
print(json.dumps(out))
