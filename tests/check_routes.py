#!/usr/bin/env python3
"""Every route portal-local serves is in infra/openapi.yaml, and every route there is served.

Usage: check_routes.py OPENAPI_YAML < routes   (routes: "METHOD /path" lines, from
`portal-local --print-routes`)."""
import sys

import yaml

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def main() -> int:
    spec = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
    documented = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    served = {line.strip() for line in sys.stdin if line.strip()}
    undocumented = sorted(served - documented)
    unserved = sorted(documented - served)
    for r in undocumented:
        print(f"served but not in openapi.yaml: {r}")
    for r in unserved:
        print(f"in openapi.yaml but not served: {r}")
    ok = not undocumented and not unserved
    print(f"routes: {len(served)} served, {len(documented)} documented: {'match' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
