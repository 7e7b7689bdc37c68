#!/usr/bin/env python3
"""Logs a demo user of the first demo practice in and prints the session token: its staff member
(password + TOTP), or with --patient its first patient (the family's guarantor).

Usage: login_token.py BASE_URL DATA_DIR [--patient]   (for the contract fuzz in tests/run)."""
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


def login(url: str, body: dict) -> str:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["token"]


def main() -> None:
    base, data_dir = sys.argv[1], sys.argv[2]
    practice = json.load(open(f"{data_dir}/demo-logins.json", encoding="utf-8"))["practices"][0]
    if sys.argv[3:] == ["--patient"]:
        patient = practice["patients"][0]
        print(login(f"{base}/v1/auth/login", {"practice": practice["practiceId"], "username": patient["username"],
                                              "password": patient["password"]}))
        return
    print(login(f"{base}/v1/staff/login", {"practice": practice["practiceId"], "username": practice["staff"]["username"],
                                           "password": practice["staff"]["password"],
                                           "totp": totp(practice["staff"]["totpSecret"])}))


if __name__ == "__main__":
    main()
