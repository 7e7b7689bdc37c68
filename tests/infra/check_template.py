"""Rules the deployed stack must keep, checked on the CloudFormation that SAM makes of
infra/template.yaml (its generated roles included), so a new function cannot quietly break one:

- the import state machine's role holds the log-delivery actions Step Functions checks when the
  machine is created, and the machine has a timeout;
- only the authorizer (sync keys) and the payments functions (Stripe secrets) may decrypt with
  the portal key other than through S3, each only its own purpose; only admin may seal sync keys;
- mail is sent only from the practices' domains, in the configuration set;
- ARNs name `${AWS::Partition}`, never `aws` (GovCloud, China);
- every function logs to its own declared group with a retention and the portal key;
- every gateway response renders, with sample values, to valid problem+json of its own status;
- the CloudFront function maps each page address to the file portal-local serves for it (run in
  node: a practice's portal, payment and staff addresses, the staff page, plain files).

Usage: python check_template.py infra/template.yaml   (AWS_DEFAULT_REGION is set if missing)
"""

import json
import os
import subprocess
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# Roles allowed to use the portal key without kms:ViaService, by the encryption-context purpose
# they are limited to.
DIRECT_KMS = {
    ("kms:Decrypt", "portal-sync-key"): {"AuthorizerFunctionRole"},
    ("kms:Encrypt", "portal-sync-key"): {"AdminFunctionRole"},
    ("kms:Decrypt", "portal-payment-secret"): {"PaymentsFunctionRole", "PaymentsReconcileFunctionRole"},
    ("kms:Encrypt", "portal-payment-secret"): {"PaymentsFunctionRole"},
}
LOG_DELIVERY = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}
# What API Gateway puts in a response template's variables, as a sample.
SAMPLE_CONTEXT = {
    "$context.error.messageString": json.dumps('Invalid request body: "x" at line 1'),  # quoted, escaped
    "$context.error.responseType": "THROTTLED",
    "$context.authorizer.code": "feature_disabled",
    # The authorizer sends its detail JSON-escaped (functions/authorizer: json_escaped).
    "$context.authorizer.detail": json.dumps('The practice has not turned on "Images".')[1:-1],
}

failures = []


def fail(message):
    failures.append(message)


def as_list(v):
    return v if isinstance(v, list) else [v]


def translated(template):
    template = json.loads(json.dumps(template))
    for res in template["Resources"].values():
        props = res.get("Properties") or {}
        # Local paths are `sam build`'s business; the translator wants S3 locations.
        for key in ("CodeUri", "DefinitionUri"):
            if isinstance(props.get(key), str):
                props[key] = "s3://bucket/key"

    class NoManagedPolicyLookups:  # every managed policy is named by ARN
        def load(self):
            return {}

    params = {"MailDomains": "example-dental.com"}
    return transform(template, params, NoManagedPolicyLookups())


def statements(resources, name):
    """(statement, where) for each statement a role holds, its managed policies from the template included."""
    role = resources[name]["Properties"]
    for policy in role.get("Policies", []):
        for st in as_list(policy["PolicyDocument"]["Statement"]):
            yield st
    for arn in role.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in resources:
            for st in as_list(resources[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]):
                yield st


def check_roles(resources):
    roles = [n for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    for name in roles:
        for st in statements(resources, name):
            if st.get("Effect") != "Allow":
                continue
            actions = set(as_list(st.get("Action", [])))
            cond = st.get("Condition", {})
            flat = {k: v for op in cond.values() for k, v in op.items()}
            for action in sorted(actions):
                if action in ("kms:*", "*") or action.startswith("kms:Decrypt") or action.startswith("kms:Encrypt"):
                    if "kms:ViaService" in flat:
                        continue
                    purpose = flat.get("kms:EncryptionContext:purpose")
                    allowed = DIRECT_KMS.get((action, purpose), set())
                    if name not in allowed:
                        fail(f"{name}: {action} without kms:ViaService (purpose {purpose!r}); only {sorted(allowed) or 'none'} may")
            if "ses:SendRawEmail" in actions or "ses:SendEmail" in actions:
                if "ses:FromAddress" not in flat:
                    fail(f"{name}: sends mail without a ses:FromAddress condition")
                resources_text = json.dumps(st.get("Resource"))
                if "configuration-set/" not in resources_text:
                    fail(f"{name}: sends mail without naming the configuration set")


def check_state_machines(template, resources):
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::StateMachine":
            continue
        props = res["Properties"]
        if props.get("Logging"):
            held = set()
            for st in statements(resources, f"{name}Role"):
                held |= set(as_list(st.get("Action", [])))
            missing = LOG_DELIVERY - held
            if missing:
                fail(f"{name}: logs to CloudWatch but its role lacks {sorted(missing)}")
        path = os.path.join(os.path.dirname(TEMPLATE), props["DefinitionUri"])
        with open(path) as f:
            if "TimeoutSeconds" not in json.load(f):
                fail(f"{name}: {props['DefinitionUri']} has no top-level TimeoutSeconds")


def check_partition(text):
    for n, line in enumerate(text.splitlines(), 1):
        if "arn:aws:" in line:
            fail(f"template line {n}: an ARN with a literal partition (use ${{AWS::Partition}}): {line.strip()}")


def check_logs(template):
    resources = template["Resources"]
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        group = ((res["Properties"].get("LoggingConfig") or {}).get("LogGroup") or {}).get("Ref")
        if group not in resources or resources[group]["Type"] != "AWS::Logs::LogGroup":
            fail(f"{name}: no LoggingConfig.LogGroup naming a log group of the template")
            continue
        props = resources[group]["Properties"]
        if not props.get("RetentionInDays") or not props.get("KmsKeyId"):
            fail(f"{group}: needs RetentionInDays and KmsKeyId")


def render(body):
    for var, value in SAMPLE_CONTEXT.items():
        body = body.replace(var, value)
    if "$context" in body or "$util" in body:
        fail(f"a gateway response uses a variable this check has no sample for: {body}")
    return body


def check_gateway_responses(template):
    apis = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    for api in apis:
        responses = api["Properties"].get("GatewayResponses", {})
        for kind in ("DEFAULT_4XX", "DEFAULT_5XX", "ACCESS_DENIED", "UNAUTHORIZED", "THROTTLED", "WAF_FILTERED", "INTEGRATION_TIMEOUT"):
            if kind not in responses:
                fail(f"gateway response {kind} is not defined")
        for kind, response in responses.items():
            status = int(response.get("StatusCode", 0))
            if not status:
                fail(f"gateway response {kind}: no StatusCode (its body's status would not match)")
            headers = (response.get("ResponseParameters") or {}).get("Headers") or {}
            if headers.get("Content-Type") != "'application/problem+json'":
                fail(f"gateway response {kind}: Content-Type is not application/problem+json")
            for media, body in (response.get("ResponseTemplates") or {}).items():
                try:
                    problem = json.loads(render(body))
                except json.JSONDecodeError as e:
                    fail(f"gateway response {kind} ({media}) is not valid JSON with sample values: {e}")
                    continue
                keys = {"type", "title", "status", "detail", "code"}
                if set(problem) != keys:
                    fail(f"gateway response {kind}: members {sorted(problem)}, want {sorted(keys)}")
                elif problem["status"] != status:
                    fail(f"gateway response {kind}: body status {problem['status']} but answers {status}")
                elif not problem["type"].endswith(":" + problem["code"]):
                    fail(f"gateway response {kind}: type {problem['type']} does not end in its code")


# Viewer URI → what CloudFront must ask S3 for, or ("redirect", location). The same table as
# functions/local/src/statics.rs serves.
REWRITES = {
    "/": "/index.html",
    "/app.js": "/app.js",
    "/p/lakeside": ("redirect", "/p/lakeside/"),
    "/p/lakeside/": "/index.html",
    "/p/lakeside/pay": "/pay.html",
    "/p/lakeside/staff": ("redirect", "/p/lakeside/staff/"),
    "/p/lakeside/staff/": "/admin/index.html",
    "/admin": ("redirect", "/admin/"),
    "/admin/": "/admin/index.html",
    "/admin/app.js": "/admin/app.js",
}


def check_index_rewrite(template):
    code = template["Resources"]["IndexRewrite"]["Properties"]["FunctionCode"]
    harness = code + "\nconst out = {};\nfor (const uri of " + json.dumps(list(REWRITES)) + """) {
  const r = handler({ request: { uri, headers: {} }, viewer: { ip: '203.0.113.1' } });
  out[uri] = r.statusCode ? ['redirect', r.headers.location.value] : r.uri;
}
console.log(JSON.stringify(out));"""
    got = json.loads(subprocess.run(["node", "-e", harness], check=True, capture_output=True, text=True).stdout)
    for uri, want in REWRITES.items():
        want = list(want) if isinstance(want, tuple) else want
        if got[uri] != want:
            fail(f"IndexRewrite: {uri} -> {got[uri]}, want {want}")


if __name__ == "__main__":
    TEMPLATE = sys.argv[1]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(TEMPLATE) as f:
        text = f.read()
    template = yaml_parse(text)
    resources = translated(template)["Resources"]
    check_roles(resources)
    check_state_machines(template, resources)
    check_partition(text)
    check_logs(template)
    check_gateway_responses(template)
    check_index_rewrite(template)
    for f in failures:
        print("FAIL", f)
    print(f"{len(failures)} problem(s) in {TEMPLATE}" if failures else f"{TEMPLATE}: roles, logs, gateway responses and page addresses keep the rules")
    sys.exit(1 if failures else 0)
