#!/usr/bin/env python3
"""Recomputes the generated rows of tests/vectors/*.json with implementations
independent of libsodium (Python's hashlib BLAKE2b and HMAC, the
'cryptography' package's X25519, Ed25519 and ChaCha20-Poly1305, plus a small
HChaCha20 below). Run by hand after regenerating the vectors; CI does not need
it. Argon2id rows are not covered (no independent implementation here).

    python3 tests/vectors/crosscheck_vectors.py   # needs python3-cryptography
"""
import base64
import hashlib
import hmac
import json
import os
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

HERE = os.path.dirname(os.path.abspath(__file__))
h = bytes.fromhex


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def kdf(key, subkey_id, ctx):
    # crypto_kdf_derive_from_key is BLAKE2b(key, salt=id LE, personal=ctx).
    return hashlib.blake2b(b"", digest_size=32, key=key,
                           salt=struct.pack("<Q", subkey_id) + bytes(8),
                           person=ctx + bytes(8)).digest()


def gh(key, message):
    return hashlib.blake2b(message, digest_size=32, key=key).digest()


def _rotl(x, c):
    return ((x << c) | (x >> (32 - c))) & 0xFFFFFFFF


def _qr(st, a, b, c, d):
    st[a] = (st[a] + st[b]) & 0xFFFFFFFF; st[d] = _rotl(st[d] ^ st[a], 16)
    st[c] = (st[c] + st[d]) & 0xFFFFFFFF; st[b] = _rotl(st[b] ^ st[c], 12)
    st[a] = (st[a] + st[b]) & 0xFFFFFFFF; st[d] = _rotl(st[d] ^ st[a], 8)
    st[c] = (st[c] + st[d]) & 0xFFFFFFFF; st[b] = _rotl(st[b] ^ st[c], 7)


def hchacha20(key, nonce16):
    st = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    st += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        _qr(st, 0, 4, 8, 12); _qr(st, 1, 5, 9, 13); _qr(st, 2, 6, 10, 14); _qr(st, 3, 7, 11, 15)
        _qr(st, 0, 5, 10, 15); _qr(st, 1, 6, 11, 12); _qr(st, 2, 7, 8, 13); _qr(st, 3, 4, 9, 14)
    return struct.pack("<8I", *(st[0:4] + st[12:16]))


def main():
    n = 0
    for v in load("kdf_derive.json")["vectors"]:
        assert kdf(h(v["key"]), v["id"], v["ctx"].encode()).hex() == v["subkey"], v
        n += 1
    for v in load("generichash_keyed.json")["vectors"]:
        assert gh(h(v["key"]), h(v["message"])).hex() == v["hash"], v
        n += 1
    for v in load("fingerprint.json")["vectors"]:
        d = gh(b"", b"keyward/v1/fingerprint\0" + h(v["public_key"])).hex()[:40]
        assert " ".join(d[i:i + 8] for i in range(0, 40, 8)) == v["fingerprint"], v
        n += 1
    doc = load("account_keys.json")
    for v in doc["vectors"]:
        mk = h(v["mk"])
        assert kdf(mk, 1, b"KWmaster").hex() == v["ak"], v
        assert kdf(mk, 2, b"KWmaster").hex() == v["ek"], v
        assert gh(h(v["pepper"]), h(v["ak"])).hex() == v["verifier"], v
        n += 1
    for v in doc["prelogin_salt"]:
        assert v["email"].lower() == v["lowercase_email"], v
        assert gh(h(v["pepper2"]), v["lowercase_email"].encode())[:16].hex() == v["salt"], v
        n += 1
    for v in load("sealed_box.json")["vectors"]:
        sk = hashlib.sha512(h(v["seed"])).digest()[:32]  # crypto_box_seed_keypair
        pk = x25519.X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert sk.hex() == v["secret_key"] and pk.hex() == v["public_key"], v
        n += 1
    for v in load("aead.json")["vectors"]:
        key, nonce = h(v["key"]), h(v["nonce"])
        ct = ChaCha20Poly1305(hchacha20(key, nonce[:16])).encrypt(
            bytes(4) + nonce[16:], h(v["plaintext"]), h(v["ad"]))
        assert ct.hex() == v["ciphertext"], v["name"]
        assert v["blob"] == "01" + v["nonce"] + v["ciphertext"], v["name"]
        n += 1
    for v in load("ed25519.json")["vectors"]:
        sk = ed25519.Ed25519PrivateKey.from_private_bytes(h(v["seed"]))
        assert sk.sign(h(v["message"])).hex() == v["signature"], v["name"]
        assert v["secret_key"] == v["seed"] + v["public_key"], v["name"]
        n += 1
    for v in load("hmac.json")["vectors"]:
        alg = {"hmac-sha1": hashlib.sha1, "hmac-sha256": hashlib.sha256,
               "hmac-sha512": hashlib.sha512}[v["algorithm"]]
        mac = hmac.new(h(v["key"]), h(v["message"]), alg).digest()[:v["output_bytes"]]
        assert mac.hex() == v["mac"], v
        n += 1
    for v in load("totp.json")["vectors"]:
        alg = getattr(hashlib, v["algorithm"])
        mac = hmac.new(h(v["secret"]), struct.pack(">Q", v["time"] // 30), alg).digest()
        off = mac[-1] & 0x0F
        code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 10 ** v["digits"]
        assert f"{code:0{v['digits']}d}" == v["code"], v
        n += 1
    for v in load("base64url.json")["vectors"]:
        assert base64.urlsafe_b64encode(h(v["bytes"])).decode().rstrip("=") == v["base64url"], v
        n += 1
    print(f"cross-checked {n} rows")


if __name__ == "__main__":
    main()
