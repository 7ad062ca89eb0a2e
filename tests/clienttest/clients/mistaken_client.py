"""A partner client with one planted mistake, chosen by --mistake (or none: then it behaves like
examples/partner_client.py). The self-proof runs each against the plan that must expose it.

Mistakes: new-id-on-retry, new-id-after-timeout, ignore-retry-after, give-up-on-503,
retry-422-loop, exit-0-after-refusal, ed25519-always, submit-twice, unsigned-notes, no-request,
reuse-nonce, change-on-retry, text-plain.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

import httpx

from oeskit import signing


def body_for(task: dict[str, object], mistake: str, **reuse: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "externalId": f"mistaken-{uuid.uuid4()}",
        "notes": task["notes"],
        "settlementAmounts": task["settlementAmounts"],
        "nonce": signing.new_nonce(),
        "cutoffAt": task["cutoffAt"],
    }
    fields.update(reuse)
    scheme = os.environ["OES_SIGNING_SCHEME"]
    if mistake == "ed25519-always":
        scheme = signing.ED25519
    key = signing.key_from_private(scheme, os.environ["OES_PRIVATE_KEY"])
    signed = (
        fields if mistake != "unsigned-notes" else {k: v for k, v in fields.items() if k != "notes"}
    )
    payload = json.dumps(signed, separators=(",", ":"))
    return {**fields, "payload": payload, "signature": signing.sign_message(payload, key)}


def stage(task: dict[str, object], mistake: str) -> int:
    url = (
        f"{os.environ['OES_BASE_URL']}/api/network/v2/enterprises/"
        f"{os.environ['OES_ENTERPRISE_ID']}/partners/settlements"
    )
    headers = {"Authorization": f"Bearer {os.environ['OES_ACCESS_TOKEN']}"}
    timeout = 0.5 if mistake == "new-id-after-timeout" else 15.0
    body = body_for(task, mistake)
    refusals = 0
    with httpx.Client(timeout=timeout, headers=headers) as client:
        for _attempt in range(8):
            try:
                if mistake == "text-plain":
                    response = client.post(
                        url, content=json.dumps(body), headers={"Content-Type": "text/plain"}
                    )
                else:
                    response = client.post(url, json=body)
            except httpx.TransportError:
                if mistake == "new-id-after-timeout":
                    body = body_for(task, mistake)
                continue
            if response.status_code == 200:
                if mistake == "submit-twice":  # the same task again, as a new settlement
                    body, mistake = body_for(task, mistake), "submitted"
                    continue
                if mistake == "reuse-nonce":  # a second settlement signed with the same nonce
                    body, mistake = body_for(task, mistake, nonce=body["nonce"]), "submitted"
                    continue
                return 0
            if response.status_code == 503:
                if mistake == "give-up-on-503":
                    return 1
                if mistake != "ignore-retry-after":
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code >= 500:
                if mistake == "new-id-on-retry":
                    body = body_for(task, mistake)
                if mistake == "change-on-retry":  # same externalId, other notes
                    body = body_for(
                        task, mistake, externalId=body["externalId"], notes="changed on retry"
                    )
                time.sleep(0.2)
                continue
            refusals += 1
            if mistake == "retry-422-loop" and refusals < 5:
                continue
            return 0 if mistake == "exit-0-after-refusal" else 1
    return 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mistake", default="none")
    args = parser.parse_args()
    if args.mistake == "no-request":
        return 0
    return stage(json.loads(os.environ["OES_TASK"]), args.mistake)


if __name__ == "__main__":
    sys.exit(main())
