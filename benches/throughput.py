#!/usr/bin/env python3
"""Warm throughput of portal-local against a bare axum server, measured in one run on this
machine: the guarantor's `GET /v1/me` (session, family list, audit) and one read per module
(account summary, appointments, messages, care summary), each as wrk reports it (requests a
second, p50 and p99), and each as a share of bare axum's `GET /v1/me` measured just before it:
ROUNDS times, bare and route in turn, the median of those shares (one pair alone moved by ±10 %
on this 2-core machine, bare axum by as much between two neighbouring runs). Prints one JSON object.
It never fails for being slow: the goals (/v1/me >= 50 %, each module read >= 35 %) are reported.

usage: benches/throughput.py [SECONDS] [CONNECTIONS] [ROUNDS]
(after `cargo build --profile server -p portal-local -p bare-axum`; needs wrk)
"""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "server"
SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
CONNECTIONS = int(sys.argv[2]) if len(sys.argv) > 2 else 32
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3

# (what, path, goal as a share of bare axum)
ROUTES = [
    ("GET /v1/me as the guarantor (session, family list, audit)", "/v1/me", 0.50),
    ("GET /v1/account/summary", "/v1/account/summary", 0.35),
    ("GET /v1/appointments", "/v1/appointments", 0.35),
    ("GET /v1/webmail/messages", "/v1/webmail/messages", 0.35),
    ("GET /v1/care-summary", "/v1/care-summary", 0.35),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url):
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    sys.exit(f"{url} did not come up")


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))


def totp(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[19] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def seconds(text):
    """wrk's latency ('812.00us', '1.20ms', '2.01s') in milliseconds."""
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 3)


def median(runs, key):
    """The middle one of `runs` by `key` (of an even number, the upper middle)."""
    return sorted(runs, key=key)[len(runs) // 2]


def wrk(url, token=None, duration=SECONDS):
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    return {"rps": round(rate), "p50Ms": seconds(latency["50"]), "p99Ms": seconds(latency["99"]), "errors": int(errors.group(1)) if errors else 0}


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp())
    procs = []
    try:
        bare, local = free_port(), free_port()
        procs.append(subprocess.Popen([BIN / "bare-axum", f"127.0.0.1:{bare}"]))
        env = dict(os.environ, RUST_LOG="warn")
        log = open(work / "local.log", "w")
        procs.append(subprocess.Popen([BIN / "portal-local", "--addr", f"127.0.0.1:{local}", "--data-dir", work / "data"], env=env, stdout=log, stderr=log))
        wait_up(f"http://127.0.0.1:{bare}/v1/me")
        wait_up(f"http://127.0.0.1:{local}/v1/health")
        logins = json.load(open(work / "data" / "demo-logins.json"))
        practice = logins["practices"][0]
        guarantor = next(p for p in practice["patients"] if not p["temporary"])
        base = f"http://127.0.0.1:{local}"
        token = post(f"{base}/v1/auth/login", {"practice": practice["practiceId"], "username": guarantor["username"], "password": guarantor["password"]})["token"]
        staff = practice["staff"]
        staff_token = None
        for offset in (0, 1, -1):
            try:
                body = {"practice": practice["practiceId"], "username": staff["username"], "password": staff["password"], "totp": totp(staff["totpSecret"], int(time.time()) // 30 + offset)}
                staff_token = post(f"{base}/v1/staff/login", body)["token"]
                break
            except urllib.error.HTTPError:
                pass
        wrk(f"{base}/v1/me", token, duration=2)  # warm up
        measured = [("GET /v1/health (no session)", "/v1/health", None, None), ("GET /v1/me as staff (session, settings)", "/v1/me", None, staff_token)]
        measured += [(what, path, goal, token) for what, path, goal in ROUTES]
        # Each route right after a bare run of its own, its share against that one: the machine's
        # speed drifts over the minutes a run takes (bare axum alone moved 47k -> 69k requests a
        # second between two runs), and a drift then falls on both sides of each ratio alike.
        # ROUNDS such pairs a route, the median pair reported: one pair is at the mercy of a burst.
        results, bares = {"routes": []}, []
        for what, path, goal, who in measured:
            pairs = []
            for _ in range(ROUNDS):
                b = wrk(f"http://127.0.0.1:{bare}/v1/me")
                pairs.append((b, wrk(f"{base}{path}", who)))
            b, r = median(pairs, key=lambda pair: pair[1]["rps"] / pair[0]["rps"])
            bares += [b for b, _ in pairs]
            errors = sum(r["errors"] for _, r in pairs)
            share = round(r["rps"] / b["rps"], 3)
            results["routes"].append({"route": what, **r, "errors": errors, "bareRps": b["rps"], "shareOfBare": share, "goal": goal})
        results["bare"] = median(bares, key=lambda b: b["rps"])  # for the table's header
        results["connections"], results["seconds"], results["rounds"] = CONNECTIONS, SECONDS, ROUNDS
        print(json.dumps(results))
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
