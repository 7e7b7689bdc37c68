#!/usr/bin/env python3
"""check_routes.py can fail: with one route's `Events` entry deleted from a copy of the template,
it must report that route and exit non-zero; with the real template it must pass.

Usage: check_routes_test.py OPENAPI_YAML TEMPLATE_YAML ROUTES_FILE"""
import pathlib
import re
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).parent


def check(openapi, template, routes):
    with open(routes, encoding="utf-8") as stdin:
        return subprocess.run([sys.executable, str(HERE / "check_routes.py"), openapi, template],
                              stdin=stdin, capture_output=True, text=True)


def main() -> int:
    openapi, template, routes = sys.argv[1:4]
    ok = check(openapi, template, routes)
    assert ok.returncode == 0, f"the real template must pass:\n{ok.stdout}"
    text = pathlib.Path(template).read_text(encoding="utf-8")
    # The webmail settings route of the admin function: one Events line.
    line = next(l for l in text.splitlines() if re.search(r"Path: /v1/admin/settings/webmail, Method: PUT", l))
    with tempfile.TemporaryDirectory() as tmp:
        broken = pathlib.Path(tmp) / "template.yaml"
        broken.write_text(text.replace(line + "\n", ""), encoding="utf-8")
        bad = check(openapi, str(broken), routes)
    assert bad.returncode != 0, f"a route missing from the template must fail:\n{bad.stdout}"
    assert "portal-admin: serves PUT /v1/admin/settings/webmail but has no Api event" in bad.stdout, bad.stdout
    print("check_routes.py fails on a template without a served route, and passes on the real one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
