#!/usr/bin/env python3
"""Cold start of each function, split in two: **init** (process start until it asks the Lambda
Runtime API for its first event: the SDK configuration and clients built) and **first answer**
(the event handed over until its answer arrives), through a stand-in for the Runtime API on
127.0.0.1. AWS calls go to a moto server through a counting proxy, so the emulator's own time
(each round trip the function made, as the proxy timed it) is subtracted: what is left is the
function's own cost, compared with `hello-lambda` (a function that does nothing). Reports
figures; it never fails for being slow (goal: every function <= 1.5x hello).

usage: benches/cold-start.py MOTO_ENDPOINT [RUNS] [--json]
(after `cargo build --release` of the functions and hello-lambda: `benches/run` does both)
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILT = ROOT / "target" / "release"
BIN = BUILT  # main() points this at copies
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
    ("people GET /v1/admin/patients (query + audit)", "portal-people", json.load(open(ROOT / "events/people/search.json"))),
    ("code-systems GET /v1/admin/code-systems (1 query)", "portal-code-systems", json.load(open(ROOT / "events/code-systems/systems.json"))),
    ("code-import finish step (unknown import: 1 read)", "portal-code-import", json.load(open(ROOT / "events/code-import/finish.json"))),
    ("care-summary GET /v1/care-summary (7 requests in parallel + audit)", "portal-care-summary", json.load(open(ROOT / "events/care-summary/view.json"))),
    ("payments GET /v1/payments (history: 3 requests)", "portal-payments", json.load(open(ROOT / "events/payments/history.json"))),
    ("outbox-relay scheduled run (nothing unpublished: 1 query)", "portal-outbox-relay", json.load(open(ROOT / "events/outbox-relay/scheduled.json"))),
    ("payments-reconcile scheduled run (nothing open: 1 query)", "portal-payments-reconcile", json.load(open(ROOT / "events/payments-reconcile/scheduled.json"))),
    ("audit-seal scheduled run (no practice: 1 query)", "portal-audit-seal", json.load(open(ROOT / "events/audit-seal/scheduled.json"))),
]


class RuntimeApi(BaseHTTPRequestHandler):
    """Hands out one event, records when the answer (or error) arrives."""

    event = b"{}"
    ready = None
    answered = None
    served = False

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/invocation/next") and not RuntimeApi.served:
            RuntimeApi.served = True
            RuntimeApi.ready = time.perf_counter()
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


class TimedServer(ThreadingHTTPServer):
    """Notes when each connection was accepted: the emulator's side of a round trip starts there."""

    daemon_threads = True
    accepted_at = {}

    def get_request(self):
        sock, addr = super().get_request()
        self.accepted_at[sock] = time.perf_counter()
        return sock, addr


class EmulatorProxy(BaseHTTPRequestHandler):
    """Forwards each request to the emulator, counting the round trips and the time they took:
    from the connection's accept until the answer is written, so the proxy's own work (a thread
    for the connection, parsing, writing back: ~0.5 ms a round trip in Python, timed from a
    client beside it) is the emulator's, not the function's. The SDK opens one connection per
    concurrent request, and each carries one request in these runs."""

    upstream = ""
    spans = []  # (start, end) of each round trip

    @staticmethod
    def seconds():
        """The time some round trip was in flight: requests sent side by side (the care summary's
        reads) overlap, and their time passes once, not once for each."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(EmulatorProxy.spans):
            total += max(0.0, end - max(start, reach))
            reach = max(reach, end)
        return total

    def log_message(self, *args):
        pass

    def forward(self):
        # A second request on the connection (none in these runs) starts at its own request line.
        start = self.server.accepted_at.pop(self.connection, None) or time.perf_counter()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        req = urllib.request.Request(EmulatorProxy.upstream + self.path, data=body or None, method=self.command,
                                     headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")})
        try:
            res = urllib.request.urlopen(req)
            status, headers, payload = res.status, res.headers, res.read()
        except urllib.error.HTTPError as e:
            status, headers, payload = e.code, e.headers, e.read()
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        EmulatorProxy.spans.append((start, time.perf_counter()))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward


def one_run(binary, event, env):
    """One cold start, with a Runtime API of its own (a killed process's last poll can't steal the
    next run's event): (init ms, first answer ms, emulator ms, round trips); NaN when it did not
    answer within 20 s."""
    RuntimeApi.event = json.dumps(event).encode()
    RuntimeApi.ready = RuntimeApi.answered = None
    RuntimeApi.served = False
    EmulatorProxy.spans = []
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
    if RuntimeApi.answered is None or RuntimeApi.ready is None:
        return (float("nan"),) * 4
    return ((RuntimeApi.ready - start) * 1000, (RuntimeApi.answered - RuntimeApi.ready) * 1000, EmulatorProxy.seconds() * 1000, len(EmulatorProxy.spans))


def copies():
    """Each binary copied to a folder of its own, as Lambda runs the `bootstrap` unpacked from its
    zip. The linker's output file itself started an 8.8 MB function 0.3-0.6 ms slower than a copy
    of it (same bytes on the same disk: whatever differs there, it is not the function's cost)."""
    folder = Path(tempfile.mkdtemp(prefix="cold-start-"))
    for binary in {c[1] for c in CASES}:
        shutil.copy2(BUILT / binary, folder / binary)
    return folder


def main():
    global BIN
    BIN = copies()
    try:
        run()
    finally:
        shutil.rmtree(BIN)


def run():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    as_json = "--json" in sys.argv
    endpoint = args[0]
    extra = dict(kv.split("=", 1) for kv in os.environ.get("BENCH_ENV", "").split() if "=" in kv)
    runs = int(args[1]) if len(args) > 1 else 30
    ensure_table(endpoint)
    EmulatorProxy.upstream = endpoint.rstrip("/")
    proxy = TimedServer(("127.0.0.1", 0), EmulatorProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_LOG_GROUP_NAME": "bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.server_port}", "PORTAL_TABLE": "bench", "PORTAL_BUCKET": "bench", "PORTAL_EVENT_BUS": "bench", "PORTAL_KMS_KEY": "bench", "PORTAL_CODE_IMPORT_STATE_MACHINE": "arn:aws:states:us-east-1:123456789012:stateMachine:bench", "PORTAL_BASE_URL": "https://portal.example.com", "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true", "RUST_LOG": "error",
        **extra,  # BENCH_ENV="K=V ..." to try a setting
    }
    results, hello = [], None
    if not as_json:
        print(f"{'case':62} {'init':>7} {'answer':>7} {'emul.':>7} {'own':>7} {'x hello':>7}   (medians of {runs} runs, ms)")
    only = os.environ.get("BENCH_ONLY", "").split()  # BENCH_ONLY="portal-auth …": those binaries (and hello)
    cases = [c for c in CASES if not only or c[1] == "hello-lambda" or c[1] in only]
    # Round by round, every case once a round: a drift of the machine (another process, the
    # emulator warming up) falls on hello and the functions alike, not on whichever ran then.
    samples = {name: [] for name, _, _ in cases}
    for _ in range(runs):
        for name, binary, event in cases:
            samples[name].append(one_run(binary, event, env))
    for name, binary, _ in cases:
        all_runs = samples[name]
        ok = [r for r in all_runs if r[0] == r[0]]  # NaN: no answer within 20 s
        med = lambda i: statistics.median(r[i] for r in ok) if ok else float("nan")  # noqa: E731
        own = statistics.median(r[0] + r[1] - r[2] for r in ok) if ok else float("nan")
        hello = hello or own
        case = {"case": name, "binary": binary, "initMs": round(med(0), 2), "firstAnswerMs": round(med(1), 2), "emulatorMs": round(med(2), 2),
                "roundTrips": int(med(3)) if ok else None, "ownMs": round(own, 2), "xHello": round(own / hello, 2), "unanswered": len(all_runs) - len(ok),
                # Answered, but a second or more late (e.g. a request the function gave up and sent again).
                "late": sum(r[1] >= 1000 for r in ok),
                "sizeMb": round((BIN / binary).stat().st_size / 1e6, 1)}
        results.append(case)
        if not as_json:
            note = f"  ({case['unanswered']} runs did not answer)" if case["unanswered"] else ""
            note += f"  ({case['late']} answered only after 1 s or more)" if case["late"] else ""
            print(f"{name:62} {case['initMs']:7.2f} {case['firstAnswerMs']:7.2f} {case['emulatorMs']:7.2f} {own:7.2f} {case['xHello']:7.2f}{note}")
    proxy.shutdown()
    if as_json:
        print(json.dumps({"runs": runs, "cases": results}))


if __name__ == "__main__":
    main()
