#!/usr/bin/env python3
"""Turns one `benches/run`'s measurements (a work folder of JSON) into benches/results.json (with
the machine they were taken on) and benches/results.md (the table the README shows).

usage: benches/report.py WORK_DIR
"""
import datetime
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
work = Path(sys.argv[1])


def lines(name):
    return [json.loads(l) for l in (work / name).read_text().splitlines() if l.strip().startswith("{")]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return {"cores": os.cpu_count(), "memoryGiB": round(mem_kb / 2**20, 1), "cpu": cpu, "kernel": platform.release()}


cold = json.loads((work / "cold-start.json").read_text())
throughput = json.loads((work / "throughput.json").read_text())
imports = lines("import.jsonl")
zips = lines("zips.jsonl")
load = json.loads((work / "load.json").read_text())
results = {"date": datetime.date.today().isoformat(), "machine": machine(), "coldStart": cold, "throughput": throughput, "load": load, "import": imports, "zips": zips}
(ROOT / "benches" / "results.json").write_text(json.dumps(results, indent=2) + "\n")

m = results["machine"]
out = [
    "# Benchmark results",
    "",
    f"One run of `benches/run` on {results['date']}: {m['cores']} cores, {m['memoryGiB']} GiB, {m['cpu']}. Every figure",
    "is measured against a baseline taken in the same run; the goals are the project's, and a miss is reported, never hidden.",
    "",
    "## Cold start (goal: each function ≤ 1.5× hello-lambda)",
    "",
    f"Medians of {cold['runs']} cold starts each, taken round by round (every function, hello included, once a round). *Init*: process start until the function asks for its first event; *first",
    "answer*: the event handed over until its answer arrives; *emulator*: the time its calls spent in moto and the counting",
    "proxy (each round trip from the proxy's accept to its last byte written; subtracted); *own*: init + first answer − emulator; *× hello*: own against `hello-lambda`'s.",
    "",
    "| function and request | init ms | first answer ms | round trips | emulator ms | own ms | × hello | binary MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
]
for c in cold["cases"]:
    flag = "" if c["xHello"] <= 1.5 else " ✗"
    missed = f" ({c['unanswered']} runs did not answer)" if c["unanswered"] else ""
    missed += f" ({c['late']} answered only after 1 s or more)" if c.get("late") else ""
    out.append(f"| {c['case']}{missed} | {c['initMs']:.2f} | {c['firstAnswerMs']:.2f} | {c['roundTrips']} | {c['emulatorMs']:.2f} | {c['ownMs']:.2f} | {c['xHello']:.2f}{flag} | {c['sizeMb']} |")
bare = throughput["bare"]
out += [
    "",
    "## Warm throughput of portal-local (goals: the guarantor's `GET /v1/me` ≥ 50 %, each module read ≥ 35 % of bare axum)",
    "",
    f"wrk, {throughput['connections']} connections, {throughput['seconds']} s a run, both built with the `server` profile (opt-level 3), loopback. Each route is measured right after",
    "a run of bare axum answering a `GET /v1/me` of the same size, and its share is against that run (the machine's speed drifts",
    f"over a run); {throughput.get('rounds', 1)} such pairs a route, the pair with the median share shown (its runs; non-2xx of all).",
    f"Bare axum's median run: **{bare['rps']:,} requests/s** (p50 {bare['p50Ms']} ms, p99 {bare['p99Ms']} ms).",
    "",
    "| route | requests/s | bare axum just before | share of bare | goal | p50 ms | p99 ms | non-2xx |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
]
for r in throughput["routes"]:
    goal = f"{r['goal']:.0%}" if r["goal"] else "–"
    flag = " ✗" if r["goal"] and r["shareOfBare"] < r["goal"] else ""
    before = f"{r['bareRps']:,}" if "bareRps" in r else "–"
    out.append(f"| {r['route']} | {r['rps']:,} | {before} | {r['shareOfBare']:.1%}{flag} | {goal} | {r['p50Ms']} | {r['p99Ms']} | {r['errors']} |")
out += [
    "",
    "## Load: 200 patients and 10 staff at once (`portal-local` built with the `server` profile, loopback)",
    "",
    f"`tests/portal-tests/tests/all/load.rs`: sign-ins done, then {load['seconds']:.0f} s of the day's mix (Home, every module, messages",
    "with attachments, bookings racing for slots, care-summary downloads, payments, staff searches and replies, two sync workers),",
    f"with its invariants checked after. **{load['requests']:,} requests** ({load['requests'] / load['seconds']:,.0f}/s), none ≥ 500;",
    f"resident memory {load['rssStartMiB']} MiB at the start, {load['rssEndMiB']} MiB at the end.",
    "",
    "| route | requests | per s | p50 ms | p99 ms |",
    "|---|---:|---:|---:|---:|",
]
for r in load["routes"]:
    out.append(f"| {r['route']} | {r['requests']:,} | {r['perSecond']:.1f} | {r['p50Ms']:.1f} | {r['p99Ms']:.1f} |")
out += ["", "## Code-system import", "", "| case | rows | seconds | rows/s | peak memory MB |", "|---|---:|---:|---:|---:|"]
for i in imports:
    out.append(f"| {i['case']} | {i['rows']:,} | {i['seconds']:.1f} | {i['rowsPerSecond']:,.0f} | {i['peakRssMb']:.0f} |")
out += ["", "## Deployment zips", "", "| function | zip KB |", "|---|---:|"]
for z in zips:
    out.append(f"| {z['function']} | {z['zipBytes'] / 1024:,.0f} |")
(ROOT / "benches" / "results.md").write_text("\n".join(out) + "\n")

# The README shows the latest table, between its markers (headings one level down).
readme = ROOT / "README.md"
text = readme.read_text()
start, end = "<!-- results: benches/results.md -->\n", "<!-- /results -->"
if start in text and end in text:
    body = "\n".join(("#" + l if l.startswith("## ") else l) for l in out[2:])
    head, rest = text.split(start, 1)
    readme.write_text(head + start + "\n" + body + "\n\n" + end + rest.split(end, 1)[1])
