"""No PHI in the logs: reads every patient record a portal-local data folder holds (names,
emails, birthdates, phone numbers, street addresses) and fails when any of them appears in the
given log. tests/run runs it on portal-local's log after the browser flows (sign-ins, messages,
bookings, downloads, payments, staff searches) have gone through it.

Usage: python log_scan.py LOG DATA_DIR
"""

import json
import sqlite3
import sys


def patients(db):
    """Each synced patient's fields (the records of the sync store, any practice)."""
    for (data,) in db.execute("SELECT data FROM items WHERE data LIKE '%\"firstName\"%' AND data LIKE '%\"birthdate\"%'"):
        try:
            item = json.loads(data)
        except json.JSONDecodeError:
            continue
        stack = [item]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                if "firstName" in v and "lastName" in v:
                    yield v
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)


def identifiers(p):
    yield f"{p['firstName']} {p['lastName']}"
    for key in ("email", "birthdate"):
        if p.get(key):
            yield p[key]
    for phone in p.get("phones") or []:
        if phone.get("number"):
            yield phone["number"]
    line1 = (p.get("address") or {}).get("line1")
    if line1:
        yield line1


def main(log_path, data_dir):
    db = sqlite3.connect(f"file:{data_dir}/portal.db?mode=ro", uri=True)
    needles = sorted({n for p in patients(db) for n in identifiers(p)})
    if len(needles) < 10:
        print(f"only {len(needles)} identifiers found in {data_dir}: is the demo data there?", file=sys.stderr)
        return 1
    with open(log_path, encoding="utf-8", errors="replace") as f:
        log = f.read()
    lines = log.count("\n")
    found = [n for n in needles if n.lower() in log.lower()]
    for n in found:
        print(f"PHI in the log: {n!r}", file=sys.stderr)
    requests = log.count('"kind":"request"')
    if requests < 100:
        print(f"only {requests} request lines in the log: did the flows run through it?", file=sys.stderr)
        return 1
    print(f"{len(needles)} patient identifiers, none in {lines} log lines ({requests} requests)" if not found else "")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
