#!/usr/bin/env python3
"""Logs the first demo practice's staff member in (password + TOTP) and prints the session token.

Usage: staff_token.py BASE_URL DATA_DIR   (for the contract fuzz in tests/run)."""
import base64
import hashlib
import hmac
import json
import struct
import sys
import time
import urllib.request


def totp(secret_b32: str) -> str:
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = mac[19] & 15
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def main() -> None:
    base, data_dir = sys.argv[1], sys.argv[2]
    practice = json.load(open(f"{data_dir}/demo-logins.json", encoding="utf-8"))["practices"][0]
    body = {"practice": practice["practiceId"], "username": practice["staff"]["username"],
            "password": practice["staff"]["password"], "totp": totp(practice["staff"]["totpSecret"])}
    req = urllib.request.Request(f"{base}/v1/staff/login", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    print(json.load(urllib.request.urlopen(req))["token"])


if __name__ == "__main__":
    main()
