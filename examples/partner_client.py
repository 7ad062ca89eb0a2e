"""A correct partner client for the OES v2 staging route, in about a hundred lines.

It stages one settlement and handles what goes wrong in production:
- every retry resends the SAME body (same externalId, same nonce, same signature), so a lost
  answer can never become a second settlement: the server answers a replay with the stored one;
- a 503 waits the Retry-After it was given; a 5xx, a timeout or a dropped connection backs off;
- a 4xx is a refusal: it would need a change to succeed, so the client stops and exits 1.

Configuration comes from the environment (`oeskit client-test` sets it): OES_BASE_URL,
OES_ENTERPRISE_ID, OES_ACCESS_TOKEN, OES_SIGNING_SCHEME (ed25519 or bitcoin-message),
OES_PRIVATE_KEY (hex) and OES_TASK (JSON: settlementAmounts, cutoffAt, notes).
Needs httpx, plus pynacl (ed25519) or coincurve (bitcoin-message).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import time
import uuid

import httpx

MAX_ATTEMPTS = 6
TIMEOUT_S = 15.0


def sign(payload: str, scheme: str, private_key: bytes) -> str:
    """Hex signature over the UTF-8 bytes of the exact payload string."""
    message = payload.encode("utf-8")
    if scheme == "ed25519":
        import nacl.signing

        return nacl.signing.SigningKey(private_key).sign(message).signature.hex()
    if scheme == "bitcoin-message":  # what BitGo's SDKs produce for secp256k1 keys
        import coincurve

        framed = b"\x18Bitcoin Signed Message:\n" + _varint(len(message)) + message
        digest = hashlib.sha256(hashlib.sha256(framed).digest()).digest()
        signature = coincurve.PrivateKey(private_key).sign_recoverable(digest, hasher=None)
        header = 31 + signature[64]  # 27 + recovery id + 4 (compressed public key)
        return (bytes([header]) + signature[:64]).hex()
    raise SystemExit(f"unknown signing scheme {scheme!r}")


def _varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    return b"\xfe" + n.to_bytes(4, "little")


def signed_body(task: dict[str, object]) -> dict[str, object]:
    """The task as a signed staging body, built ONCE: retries resend it unchanged."""
    fields = {
        "externalId": f"settlement-{uuid.uuid4()}",
        "notes": task["notes"],
        "settlementAmounts": task["settlementAmounts"],
        "nonce": secrets.token_hex(32),
        "cutoffAt": task["cutoffAt"],
    }
    payload = json.dumps(fields, separators=(",", ":"))  # every field is signed
    key = bytes.fromhex(os.environ["OES_PRIVATE_KEY"])
    return {
        **fields,
        "payload": payload,
        "signature": sign(payload, os.environ["OES_SIGNING_SCHEME"], key),
    }


def stage(body: dict[str, object]) -> int:
    url = (
        f"{os.environ['OES_BASE_URL'].rstrip('/')}/api/network/v2/enterprises/"
        f"{os.environ['OES_ENTERPRISE_ID']}/partners/settlements"
    )
    headers = {"Authorization": f"Bearer {os.environ['OES_ACCESS_TOKEN']}"}
    with httpx.Client(timeout=TIMEOUT_S, headers=headers) as client:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = client.post(url, json=body)
            except httpx.TransportError as exc:  # timeout or dropped connection: maybe staged
                print(f"attempt {attempt}: {type(exc).__name__}, resending the same request")
                time.sleep(min(2**attempt, 10))
                continue
            if response.status_code == 200:
                settlement = response.json()["settlement"]
                print(f"staged settlement {settlement['id']} ({body['externalId']})")
                return 0
            if response.status_code == 503:
                delay = float(response.headers.get("Retry-After", "1"))
                print(f"attempt {attempt}: busy, retrying after {delay:g} s")
                time.sleep(delay)
                continue
            if response.status_code >= 500:
                print(f"attempt {attempt}: {response.status_code}, resending the same request")
                time.sleep(min(2**attempt, 10))
                continue
            print(f"refused: {response.status_code} {response.text}", file=sys.stderr)
            return 1
    print(f"gave up after {MAX_ATTEMPTS} attempts", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(stage(signed_body(json.loads(os.environ["OES_TASK"]))))
