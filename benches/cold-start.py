#!/usr/bin/env python3
"""Cold start of each function: time from process start to its first answer, through a stand-in
for the Lambda Runtime API on 127.0.0.1 (DynamoDB calls go to a moto server). Reports figures; it
never fails for being slow (budget: init + first invoke <= 1.5x hello-world).

usage: benches/cold-start.py MOTO_ENDPOINT [RUNS]   (after `cargo build --release -p portal-authorizer -p portal-auth -p portal-admin -p portal-sync -p portal-account -p portal-treatment-plans -p portal-images -p portal-appointments -p portal-webmail -p portal-notify -p portal-access -p portal-invites -p portal-code-systems -p portal-code-import -p portal-care-summary -p portal-payments -p portal-outbox-relay -p portal-payments-reconcile -p hello-lambda`)
"""
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"
CASES = [
    ("hello-lambda", "hello-lambda", {"hello": "world"}),
    ("authorizer (no session: 401)", "portal-authorizer", json.load(open(ROOT / "events/authorizer/request.json"))),
    ("auth GET /v1/health", "portal-auth", json.load(open(ROOT / "events/auth/health.json"))),
    ("auth GET /v1/me (1 DynamoDB read)", "portal-auth", json.load(open(ROOT / "events/auth/me.json"))),
    ("admin GET /v1/admin/settings (1 read)", "portal-admin", json.load(open(ROOT / "events/admin/settings-get.json"))),
    ("sync GET /v1/sync/patients/… (1 read)", "portal-sync", json.load(open(ROOT / "events/sync/get-entity.json"))),
    ("account GET /v1/account/summary (3 requests)", "portal-account", json.load(open(ROOT / "events/account/summary.json"))),
    ("treatment-plans GET (3 requests)", "portal-treatment-plans", json.load(open(ROOT / "events/treatment-plans/list.json"))),
    ("images GET /v1/images (2 requests)", "portal-images", json.load(open(ROOT / "events/images/list.json"))),
    ("appointments GET (3 requests)", "portal-appointments", json.load(open(ROOT / "events/appointments/list.json"))),
    ("webmail GET /v1/webmail/messages", "portal-webmail", json.load(open(ROOT / "events/webmail/list.json"))),
    ("invites scheduled run (no practice has rules on)", "portal-invites", json.load(open(ROOT / "events/invites/scheduled.json"))),
    ("notify webmail.sent (unknown message: 1 read)", "portal-notify", json.load(open(ROOT / "events/notify/webmail-sent.json"))),
    ("access GET /v1/admin/patients (query + audit)", "portal-access", json.load(open(ROOT / "events/access/search.json"))),
    ("code-systems GET /v1/admin/code-systems (1 query)", "portal-code-systems", json.load(open(ROOT / "events/code-systems/systems.json"))),
    ("code-import finish step (unknown import: 1 read)", "portal-code-import", json.load(open(ROOT / "events/code-import/finish.json"))),
    ("care-summary GET /v1/care-summary (7 requests in parallel + audit)", "portal-care-summary", json.load(open(ROOT / "events/care-summary/view.json"))),
    ("payments GET /v1/payments (history: 3 requests)", "portal-payments", json.load(open(ROOT / "events/payments/history.json"))),
    ("outbox-relay scheduled run (nothing unpublished: 1 query)", "portal-outbox-relay", json.load(open(ROOT / "events/outbox-relay/scheduled.json"))),
    ("payments-reconcile scheduled run (nothing open: 1 query)", "portal-payments-reconcile", json.load(open(ROOT / "events/payments-reconcile/scheduled.json"))),
]


class RuntimeApi(BaseHTTPRequestHandler):
    """Hands out one event, records when the answer (or error) arrives."""

    event = b"{}"
    answered = None
    served = False

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/invocation/next") and not RuntimeApi.served:
            RuntimeApi.served = True
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(RuntimeApi.event)))
            self.end_headers()
            try:
                self.wfile.write(RuntimeApi.event)
            except BrokenPipeError:
                pass
        else:
            time.sleep(5)  # the next poll: the process is killed before this returns

    def do_POST(self):
        RuntimeApi.answered = time.perf_counter()
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202)
        self.end_headers()


def ensure_table(endpoint):
    req = urllib.request.Request(endpoint, method="POST", data=json.dumps({
        "TableName": "bench", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    }).encode(), headers={
        "X-Amz-Target": "DynamoDB_20120810.CreateTable", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00",
    })
    try:
        urllib.request.urlopen(req).read()
    except urllib.error.HTTPError:
        pass  # exists already


def one_run(binary, event, env):
    """One cold start, with a Runtime API of its own (a killed process's last poll can't steal the
    next run's event)."""
    RuntimeApi.event = json.dumps(event).encode()
    RuntimeApi.answered = None
    RuntimeApi.served = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_port}"}
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN / binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while RuntimeApi.answered is None and time.perf_counter() - start < 20:
        time.sleep(0.0005)
    proc.kill()
    proc.wait()
    server.shutdown()
    server.server_close()
    return (RuntimeApi.answered - start) * 1000 if RuntimeApi.answered else float("nan")


def main():
    endpoint = sys.argv[1]
    extra = dict(kv.split("=", 1) for kv in os.environ.get("BENCH_ENV", "").split() if "=" in kv)
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    ensure_table(endpoint)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_LOG_GROUP_NAME": "bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint, "PORTAL_TABLE": "bench", "PORTAL_BUCKET": "bench", "PORTAL_EVENT_BUS": "bench", "PORTAL_KMS_KEY": "bench", "PORTAL_CODE_IMPORT_STATE_MACHINE": "arn:aws:states:us-east-1:123456789012:stateMachine:bench", "PORTAL_BASE_URL": "https://portal.example.com", "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true", "RUST_LOG": "error",
        **extra,  # BENCH_ENV="K=V ..." to try a setting
    }
    baseline = None
    print(f"{'case':42} {'median ms':>10} {'min ms':>8} {'x hello':>8}   ({runs} runs each)")
    for name, binary, event in CASES:
        all_runs = [one_run(binary, event, env) for _ in range(runs)]
        times = sorted(t for t in all_runs if t == t)  # NaN: no answer within 20 s
        if len(times) < len(all_runs):
            print(f"  ({len(all_runs) - len(times)} runs of {name} did not answer)")
        median = statistics.median(times)
        baseline = baseline or median
        print(f"{name:42} {median:10.2f} {times[0]:8.2f} {median / baseline:8.2f}")
    # The emulator's own latency is in every case that reads the table: report it for context.
    probe = urllib.request.Request(endpoint, method="POST", data=json.dumps({"TableName": "bench", "Key": {"pk": {"S": "x"}, "sk": {"S": "y"}}}).encode(), headers={
        "X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00",
    })
    trips = []
    for _ in range(runs):
        t = time.perf_counter()
        urllib.request.urlopen(probe).read()
        trips.append((time.perf_counter() - t) * 1000)
    print(f"{'(one GetItem round trip to the emulator)':42} {statistics.median(trips):10.2f}")
    for binary in sorted({c[1] for c in CASES}):
        print(f"size {binary}: {(BIN / binary).stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
