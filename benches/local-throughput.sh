#!/usr/bin/env bash
# Throughput of portal-local's authenticated reads against a bare axum server, in one run on this
# machine (goal: portal-local ≥ 50% of bare). Reports figures; never fails on speed.
#   benches/local-throughput.sh [SECONDS] [CONNECTIONS]
# Needs wrk (Debian: apt-get install wrk) and release builds:
#   cargo build --release -p portal-local -p bare-axum
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
CONNS=${2:-32}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up() { for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "$1 did not come up" >&2; exit 1; }

BARE=$(port)
target/release/bare-axum "127.0.0.1:$BARE" & PIDS+=($!)
LOCAL=$(port)
RUST_LOG=warn target/release/portal-local --addr "127.0.0.1:$LOCAL" --data-dir "$WORK/data" >"$WORK/local.log" 2>&1 & PIDS+=($!)
up "http://127.0.0.1:$BARE/v1/me"
up "http://127.0.0.1:$LOCAL/v1/health"

# A patient session (the demo's guarantor: /v1/me also lists the family).
TOKEN=$(python3 - "$LOCAL" "$WORK/data/demo-logins.json" <<'PY'
import json, sys, urllib.request
port, logins = sys.argv[1], json.load(open(sys.argv[2]))
p = logins["practices"][0]
pat = next(x for x in p["patients"] if not x["temporary"])
body = json.dumps({"practice": p["practiceId"], "username": pat["username"], "password": pat["password"]}).encode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/auth/login", data=body, headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req))["token"])
PY
)
# A staff session: the same authorizer work (session + settings), no family list and no audit.
STAFF=$(python3 - "$LOCAL" "$WORK/data/demo-logins.json" <<'PY'
import base64, hashlib, hmac, json, struct, sys, time, urllib.request
port, logins = sys.argv[1], json.load(open(sys.argv[2]))
p = logins["practices"][0]
def totp(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[19] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)
for offset in (0, 1, -1):
    body = json.dumps({"practice": p["practiceId"], "username": p["staff"]["username"], "password": p["staff"]["password"],
                       "totp": totp(p["staff"]["totpSecret"], int(time.time()) // 30 + offset)}).encode()
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/staff/login", data=body, headers={"Content-Type": "application/json"})
        print(json.load(urllib.request.urlopen(req))["token"]); break
    except urllib.error.HTTPError:
        pass
PY
)
rate() { wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
echo "warming up…"
wrk -t2 -c"$CONNS" -d2s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$LOCAL/v1/me" >/dev/null
BARE_RATE=$(rate "http://127.0.0.1:$BARE/v1/me")
LOCAL_RATE=$(rate -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$LOCAL/v1/me")
HEALTH_RATE=$(rate "http://127.0.0.1:$LOCAL/v1/health")
STAFF_RATE=$(rate -H "Authorization: Bearer $STAFF" "http://127.0.0.1:$LOCAL/v1/me")
python3 - "$BARE_RATE" "$LOCAL_RATE" "$HEALTH_RATE" "$STAFF_RATE" <<'PY'
import sys
bare, me, health, staff = map(float, sys.argv[1:5])
print(f"bare axum GET /v1/me:                    {bare:10.0f} req/s")
print(f"portal-local GET /v1/health (no auth):   {health:10.0f} req/s  ({100 * health / bare:.0f}% of bare)")
print(f"portal-local GET /v1/me as staff (session + settings): {staff:10.0f} req/s  ({100 * staff / bare:.0f}% of bare)")
print(f"portal-local GET /v1/me as the guarantor (+ family list, audited): {me:10.0f} req/s  ({100 * me / bare:.0f}% of bare)")
PY
