#!/usr/bin/env python3
"""The served routes, the API contract and the deployment agree.

Usage: check_routes.py OPENAPI_YAML TEMPLATE_YAML < routes
  routes: "BINARY METHOD /path" lines, from `portal-local --print-routes` (the module registry).

Checks that every served route is in openapi.yaml and every documented route is served, and that
each function in the SAM template (found by its `BuildProperties.Binary`) has exactly one `Api`
event per route its code serves: a route missing from the template would pass every local test
and answer 404 on AWS."""
import sys

import yaml

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, …) as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template_routes(template):
    """{binary: {"METHOD /path"}} from each function's Api events (the catch-all proxy aside)."""
    out = {}
    for name, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary") or name
        events = (res.get("Properties") or {}).get("Events") or {}
        routes = out.setdefault(binary, set())
        for event in events.values():
            props = event.get("Properties") or {}
            if event.get("Type") != "Api" or props.get("Method", "").upper() == "ANY":
                continue
            routes.add(f"{props['Method'].upper()} {props['Path']}")
    return out


def main() -> int:
    spec = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
    template = yaml.load(open(sys.argv[2], encoding="utf-8"), Loader=CfnLoader)
    documented = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    by_function = {}
    for line in sys.stdin:
        if line.strip():
            binary, method, path = line.split()
            by_function.setdefault(binary, set()).add(f"{method} {path}")
    served = set().union(*by_function.values()) if by_function else set()
    problems = [f"served but not in openapi.yaml: {r}" for r in sorted(served - documented)]
    problems += [f"in openapi.yaml but not served: {r}" for r in sorted(documented - served)]
    deployed = template_routes(template)
    for binary, routes in sorted(by_function.items()):
        events = deployed.get(binary)
        if events is None:
            problems.append(f"{binary}: no function with this Binary in the template")
            continue
        problems += [f"{binary}: serves {r} but has no Api event for it in the template" for r in sorted(routes - events)]
        problems += [f"{binary}: template routes {r} to it, but it does not serve it" for r in sorted(events - routes)]
    for p in problems:
        print(p)
    print(f"routes: {len(served)} served, {len(documented)} documented, "
          f"{sum(len(r) for r in deployed.values())} in the template: {'match' if not problems else 'MISMATCH'}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
