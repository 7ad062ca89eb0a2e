"""The signed payload: its canonical JavaScript-compatible string and its binding to the body.

Pure functions over JSON values. No cryptography, no I/O.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence

import orjson

SIGNED_FIELDS: tuple[str, ...] = (
    "externalId",
    "notes",
    "settlementAmounts",
    "nonce",
    "cutoffAt",
)

# JSON.stringify's escapes for the characters it does not emit raw.
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_MAX_ARRAY_INDEX = 2**32 - 2


class PayloadNotJSON(ValueError):
    """The payload string does not parse as a JSON object."""


def new_nonce() -> str:
    """Return a random 32-byte hex nonce, as BitGoJS generates by default."""
    return secrets.token_hex(32)


def canonical_payload(fields: Mapping[str, object]) -> str:
    """Serialize the signed fields as JavaScript's `JSON.stringify` would.

    Keys follow `SIGNED_FIELDS`; absent keys are skipped and any other key is ignored. A value
    of None is JSON `null` (present), as the body's own `null` would be.
    """
    parts = [f"{_string(name)}:{_value(fields[name])}" for name in SIGNED_FIELDS if name in fields]
    return "{" + ",".join(parts) + "}"


def parse_payload(payload: str) -> dict[str, object]:
    """Parse a payload string as `JSON.parse` would; raise PayloadNotJSON unless it is an object."""
    try:
        parsed = json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, TypeError) as exc:
        raise PayloadNotJSON(f"payload is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise PayloadNotJSON(f"payload is JSON but not an object (got {type(parsed).__name__})")
    return parsed


def payload_mismatches(payload_obj: Mapping[str, object], body: Mapping[str, object]) -> list[str]:
    """Return the signed field names whose presence or value differs between payload and body."""
    mismatches = []
    for name in SIGNED_FIELDS:
        in_payload, in_body = name in payload_obj, name in body
        if in_payload != in_body or (in_payload and not _same(payload_obj[name], body[name])):
            mismatches.append(name)
    return mismatches


def _same(left: object, right: object) -> bool:
    """json_equal, with a fast path: equal sorted-key serializations are equal JSON values
    (orjson is ~20x faster than the recursive walk on a 50,000-entry settlementAmounts)."""
    try:
        if orjson.dumps(left, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            right, option=orjson.OPT_SORT_KEYS
        ):
            return True
    except TypeError:  # e.g. a lone surrogate, which orjson refuses to encode
        pass
    return json_equal(left, right)


def json_equal(left: object, right: object) -> bool:
    """Deep equality of JSON values: key order ignored, strings exact, booleans are not numbers."""
    # Python's == treats True == 1 and is fine with it; JSON does not.
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if _is_array(left) and _is_array(right):
        assert isinstance(left, Sequence) and isinstance(right, Sequence)
        return len(left) == len(right) and all(
            json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return False


def _reject_constant(name: str) -> object:
    # JSON.parse rejects NaN and Infinity; Python's json module accepts them by default.
    raise ValueError(f"{name} is not JSON")


def _is_array(value: object) -> bool:
    return isinstance(value, (list, tuple))


def _value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return _object(value)
    if _is_array(value):
        assert isinstance(value, Sequence)
        return "[" + ",".join(_value(item) for item in value) + "]"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _object(obj: Mapping[object, object]) -> str:
    for key in obj:
        if not isinstance(key, str):
            raise TypeError(f"object key {key!r} is not a string")
    keys = [key for key in obj if isinstance(key, str)]
    # JavaScript objects enumerate array-index keys ("0", "17") first, ascending, then the
    # other keys in insertion order; JSON.stringify inherits that order.
    indices = sorted((k for k in keys if _is_array_index(k)), key=int)
    others = [k for k in keys if not _is_array_index(k)]
    return "{" + ",".join(f"{_string(k)}:{_value(obj[k])}" for k in indices + others) + "}"


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) <= _MAX_ARRAY_INDEX


def _string(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    # Control characters and lone surrogates (well-formed JSON.stringify, ES2019) become \uXXXX.
    # A Python str holds a valid pair as one code point, so any surrogate here is lone.
    return f"\\u{ord(char):04x}"


def _number(value: float) -> str:
    """Format a number as JavaScript's Number#toString does."""
    if isinstance(value, int) and abs(value) < 10**21:
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return "null"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr gives the shortest round-trip digits, the same digits JavaScript chooses.
    mantissa, _, exp_text = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    combined = whole + fraction
    digits = combined.lstrip("0")
    # point: where the decimal point sits relative to the first significant digit.
    point = len(whole) + (int(exp_text) if exp_text else 0) - (len(combined) - len(digits))
    digits = digits.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        exponent = n - 1
        exp_sign = "+" if exponent >= 0 else "-"
        head = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{head}e{exp_sign}{abs(exponent)}"
    return sign + text
