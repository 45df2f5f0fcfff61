#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz (corpus/<target>/seed-*): small,
meaningful valid and near-valid inputs. Run it from anywhere; it replaces
the seed-* files and leaves the others (inputs that once failed, found-*)
alone.

    tests/fuzz/seeds.py [--rs-key RS256.pem --es-key ES256.pem]

fuzz_jwt's RS256 and ES256 seeds are signed with the private keys of
tests/fuzz/keys/*_pub.pem, which were thrown away after the seeds were
written: without --rs-key/--es-key those seeds are left as they are."""
import argparse
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CID = "c0a80000-0000-4000-8000-000000000001"
PID = "a1b2c3d4-0000-4000-8000-0000000000aa"
UID = "b2c3d4e5-0000-4000-8000-0000000000bb"
LID = "d4e5f6a7-0000-4000-8000-0000000000dd"
T0 = "2026-11-27T18:30:00Z"
T1 = "2026-11-27T19:45:30.25Z"

# fuzz_jwt.c's fixed settings
SECRET = b"fuzz-secret-0123456789abcdef-0123456789"
ISS, AUD, NOW = "wt-fuzz", "wt-clients", 1700000000
SUB = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def envelope(typ, payload, **extra):
    e = {"v": 1, "command_id": CID, "type": typ, "actor_id": UID}
    if typ.startswith("user."):
        e["actor_id"] = "system"
        e["user_id"] = UID
    else:
        e["project_id"] = PID
    e["issued_at"] = T0
    e.update(extra)
    e["payload"] = payload
    return compact(e)


def commands():
    good = {
        "project-create": envelope("project.create", {"name": "Website"}),
        "project-rename": envelope("project.rename", {"name": "Web \u00e9t\u00e9"},
                                   origin="wt-admin"),
        "member-add": envelope("member.add", {"user_id": UID, "role": "owner"}),
        "member-remove": envelope("member.remove", {"user_id": UID}),
        "log-create": envelope("log.create", {"log_id": LID, "started_at": T0,
                                              "ended_at": T1,
                                              "description": "review \U0001f680"}),
        "log-create-running": envelope("log.create", {"log_id": LID,
                                                      "started_at": T0,
                                                      "ended_at": None}),
        "log-update": envelope("log.update", {"log_id": LID, "user_id": UID,
                                              "description": "",
                                              "expected_version": 3}),
        "log-delete": envelope("log.delete", {"log_id": LID,
                                              "expected_version": 1}),
        "user-create": envelope("user.create", {
            "user_id": UID, "username": "alice_1", "display_name": "Alice",
            "password_hash": "$6$salt$abcdefghijklmnop"}),
        "user-deactivate": envelope("user.deactivate", {"user_id": UID}),
        "user-revoke-tokens": envelope("user.revoke_tokens", {"user_id": UID}),
    }
    for name, text in good.items():
        write("command", name + ".json", text)
    near = {
        # envelope problems (the DLQ)
        "v-float": good["member-remove"].replace('"v":1', '"v":1.0'),
        "cid-upper": good["member-remove"].replace(CID, CID.upper()),
        "type-unknown": good["member-remove"].replace("member.remove", "member.rm"),
        "no-project": envelope("log.delete", {"log_id": LID}).replace(
            '"project_id":"%s",' % PID, ""),
        "issued-offset": good["member-remove"].replace(T0, "2026-11-27T18:30:00+01:00"),
        "origin-long": envelope("project.create", {"name": "x"}, origin="o" * 65),
        "payload-array": good["member-remove"].replace('{"user_id":"%s"}' % UID, "[]"),
        "trailing-comma": good["member-remove"][:-1] + ",}",
        "nul-in-cid": good["member-remove"].replace(CID, CID[:8] + "\\u0000" + CID[9:]),
        # payload problems (rejected invalid)
        "unknown-field": envelope("member.remove", {"user_id": UID, "role": "x"}),
        "escaped-key": good["project-create"].replace('"payload"', '"\\u0070ayload"'),
        "duplicate-payload": good["project-create"][:-1] + ',"payload":{"name":" "}}',
        "lone-surrogate": envelope("project.create", {"name": "x"}).replace(
            '"name":"x"', '"name":"\\ud83d x"'),
        "ended-before": envelope("log.create", {"log_id": LID, "started_at": T1,
                                                "ended_at": T0}),
        "version-huge": envelope("log.delete", {"log_id": LID}).replace(
            '"log_id"', '"expected_version":9223372036854775808,"log_id"'),
        "leap-day": envelope("log.create", {"log_id": LID,
                                            "started_at": "2028-02-29T23:59:59.999999Z"}),
        "bad-date": envelope("log.create", {"log_id": LID,
                                            "started_at": "2027-02-29T00:00:00Z"}),
        "user-mismatch": envelope("user.deactivate", {"user_id": PID}),
        "deep": good["project-create"][:-1] + ',"meta":' + "[" * 14 + "]" * 14 + "}",
        "too-deep": good["project-create"][:-1] + ',"meta":' + "[" * 15 + "]" * 15 + "}",
        "update-nothing": envelope("log.update", {"log_id": LID}),
        "bad-hash": envelope("user.create", {
            "user_id": UID, "username": "Al", "display_name": " ",
            "password_hash": "plain"}),
    }
    for name, text in near.items():
        write("command", name + ".json", text)


def json_texts():
    texts = {
        "object": '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
        "whitespace": ' \t\r\n{ "a" : [ 1 , 2 ] } \n',
        "numbers": "[0,-0,1.5,-0.25e+3,1E-2,123456789,9223372036854775807,"
                   "-9223372036854775808,9223372036854775808,1e999]",
        "escapes": r'["\"\\\/\b\f\n\r\t","\u00e9\u20ac","\ud83d\ude80","\u0041"]',
        "utf8": '["\u00e9t\u00e9","\u20ac","\U0001f680"]',
        "flaw-nul": r'{"a":"x\u0000y"}',
        "flaw-surrogate": r'{"items":[{"id":"\udc00"}]}',
        "flaw-int": '{"n":-99999999999999999999}',
        "deep-16": "[" * 16 + "]" * 16,
        "deep-17": "[" * 17 + "]" * 17,
        "long-path": '{"' + "k" * 45 + '":{"' + "\u00e9" * 30 + '":[{"x":"\\udbff"}]}}',
        "payload": '{"v":1,"payload":{"name":"x","n":[1,{"y":2}]},"payload":{}}',
        "string": '"just a string"',
        "scalar": "true",
        # near-valid: each refused for one reason
        "nan": "[NaN]",
        "single-quote": "{'a':1}",
        "leading-zero": "[01]",
        "dot": "[1.]",
        "plus": "[+1]",
        "trailing": "{} x",
        "control": '["a\tb"]',
        "overlong": b'["\xc0\xaf"]',
        "surrogate-utf8": b'["\xed\xa0\x80"]',
        "cut-utf8": b'["\xe2\x82"]',
        "bad-escape": r'["\x41"]',
        "short-u": r'["\u12"]',
        "unterminated": '{"a":"b',
        "empty": "",
    }
    for name, text in texts.items():
        write("json", name + ".json", text)
    # the gateway's client frames (schemas/ws-client.schema.json)
    frames = {
        "ws-auth": {"type": "auth", "id": "1", "token": "eyJ.eyJ.sig"},
        "ws-subscribe": {"type": "subscribe", "id": "2", "project_id": PID, "since": 5},
        "ws-list": {"type": "list", "id": "3", "project_id": PID, "limit": 100,
                    "cursor": "abc"},
        "ws-log-create": {"type": "log.create", "id": "4", "project_id": PID,
                          "log_id": LID, "started_at": T0, "ended_at": None,
                          "description": "x"},
        "ws-log-update": {"type": "log.update", "id": "5", "project_id": PID,
                          "log_id": LID, "expected_version": 2,
                          "changes": {"description": "y", "ended_at": T1}},
    }
    for name, obj in frames.items():
        write("json", name + ".json", compact(obj))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def claims(**over):
    c = {"sub": SUB, "iat": NOW, "nbf": NOW, "exp": NOW + 900, "iss": ISS,
         "aud": AUD, "typ": "access", "ver": 0,
         "jti": "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def hs256(header, payload):
    signing = b64url(compact(header).encode()) + "." + b64url(compact(payload).encode())
    mac = hmac.new(SECRET, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(mac)


def der_to_raw(der):
    # ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r || s
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(32, b"\0")
        i += 2 + n
    return out


def pk_sign(alg, key, payload):
    header = {"alg": alg, "typ": "JWT"}
    signing = b64url(compact(header).encode()) + "." + b64url(compact(payload).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                         input=signing.encode(), capture_output=True,
                         check=True).stdout
    if alg == "ES256":
        sig = der_to_raw(sig)
    return signing + "." + b64url(sig)


def jwts(rs_key, es_key):
    # byte 0: mode (0 HS256, 1 RS256, 2 ES256, 3 sign here), 4: refresh,
    # high nibble: the time (0: NOW)
    hs = {"alg": "HS256", "typ": "JWT"}
    tokens = {
        "hs-access": (0, hs256(hs, claims())),
        "hs-refresh": (4, hs256(hs, claims(typ="refresh", exp=NOW + 7 * 86400))),
        "hs-wrong-type": (4, hs256(hs, claims())),
        "hs-expired": (0x40, hs256(hs, claims())),
        "hs-aud-array": (0, hs256(hs, claims(aud=["other", AUD, "x\u00e9"]))),
        "hs-no-jti-nbf": (0, hs256(hs, claims(jti=None, nbf=None))),
        "hs-bad-sig": (0, hs256(hs, claims())[:-2] + "AA"),
        "hs-alg-none": (0, b64url(b'{"alg":"none","typ":"JWT"}') + "."
                        + b64url(compact(claims()).encode()) + "."),
        "hs-alg-rs": (0, hs256({"alg": "RS256", "typ": "JWT"}, claims())),
        "hs-padded": (0, hs256(hs, claims()) + "="),
        "not-a-token": (0, "Bearer abc"),
        "too-large": (0, "A" * 8300),
    }
    for name, (sel, tok) in tokens.items():
        write("jwt", name, bytes([sel]) + tok.encode())
    # mode 3: header NUL claims, signed by the harness
    signed = {
        "sign-access": (hs, claims()),
        "sign-ver-neg": (hs, claims(ver=-1)),
        "sign-iat-real": (hs, claims(iat=1700000000.5)),
        "sign-sub-upper": (hs, claims(sub=SUB.upper())),
        "sign-jti-long": (hs, claims(jti="j" * 64)),
        "sign-iss-escaped": (hs, claims(iss="wt-fu\u007az")),
        "sign-aud-empty": (hs, claims(aud=[])),
        "sign-exp-huge": (hs, claims(exp=2 ** 63 - 1)),
        "sign-typ-header": ({"alg": "HS256", "typ": "JWS"}, claims()),
        "sign-array": (hs, [1, 2]),
        # aud as jansson dumps it back: escapes, other types, ours last
        "sign-aud-escapes": (hs, claims(aud=["a\"b\\", "x\u0001\n/", "wt-clients"])),
        "sign-aud-mixed": (hs, claims(aud=[1, None, {"a": 1}, ["wt-clients"]])),
        "sign-aud-near": (hs, claims(aud=["wt-client", "wt-clients2", "\u00e9wt"])),
        "sign-nbf-future": (hs, claims(nbf=NOW + 31)),
        "sign-exp-string": (hs, claims(exp=str(NOW + 900))),
    }
    for name, (h, c) in signed.items():
        write("jwt", name, bytes([3]) + compact(h).encode() + b"\0"
              + compact(c).encode())
    if rs_key:
        write("jwt", "rs-access", bytes([1]) + pk_sign("RS256", rs_key, claims()).encode())
        write("jwt", "rs-as-es", bytes([2]) + pk_sign("RS256", rs_key, claims()).encode())
    if es_key:
        write("jwt", "es-access", bytes([2]) + pk_sign("ES256", es_key, claims()).encode())
        write("jwt", "es-refresh", bytes([6]) + pk_sign(
            "ES256", es_key, claims(typ="refresh", exp=NOW + 86400)).encode())


def frame(payload, opcode=1, fin=True, masked=True, mask=b"\x37\xfa\x21\x3d",
          force_len=None):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload) if force_len is None else force_len
    m = 0x80 if masked else 0
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        hdr = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if masked:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        hdr += mask
    return hdr + payload


def ws_frames():
    head = (b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n")
    auth = b'{"type":"auth","id":"1","token":"x"}'
    close = (1000).to_bytes(2, "big") + b"bye"
    # byte 0: 1 = the head already read; byte 1: ESTABLISHED before read n
    # (255 never); byte 2: how reads are cut (0: one read)
    streams = {
        "upgrade-masked": (0, 1, 0, head + frame(auth) + frame(close, 8)),
        "upgrade-unmasked": (0, 1, 0, head + frame(auth, masked=False)),
        "unmasked-before-established": (0, 3, 5, head + frame(auth)
                                        + frame(b"hi", masked=False) + frame(auth)),
        "frames-cut": (1, 0, 7, frame(auth) + frame(b"x" * 200)
                       + frame(b"y" * 300) + frame(b"late", masked=False)),
        "fragments": (1, 0, 3, frame(b"{\"ty", fin=False) + frame(b"pe\":1}", 0)
                      + frame(b"", 9) + frame(b"pong", 10, masked=False)),
        "len16-unmasked": (1, 0, 1, frame(b"a" * 130, masked=False)),
        "len64-huge": (1, 0, 0, frame(b"", force_len=2 ** 63 + 5)),
        "head-only": (0, 0, 2, b"GET / HTTP/1.1\r\nHost: x\r\n\r"),
        "head-crcr": (0, 4, 1, b"GET /ws HTTP/1.1\r\r\n\r\r\n\r\n"
                      + frame(b"z", masked=False)),
        "never-established": (1, 255, 9, frame(auth) + frame(b"q", masked=False)),
    }
    for name, (flags, est, cut, data) in streams.items():
        write("ws_frame", name, bytes([flags, est, cut]) + data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rs-key")
    ap.add_argument("--es-key")
    a = ap.parse_args()
    commands()
    json_texts()
    jwts(a.rs_key, a.es_key)
    ws_frames()
    return 0


if __name__ == "__main__":
    sys.exit(main())
