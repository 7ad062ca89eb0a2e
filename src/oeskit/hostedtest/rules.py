"""The ids of partner-hosted.yaml's rules that hosted-test's scenarios check (stable constants;
the statements and statuses live in the contract's catalogue only)."""

from __future__ import annotations

from typing import Final

SIG_MISSING: Final = "PH-SIG-001"
SIG_RS256: Final = "PH-SIG-002"
SIG_EXPIRED: Final = "PH-SIG-003"
SIG_LIFETIME: Final = "PH-SIG-004"
SIG_REPLAY: Final = "PH-SIG-005"
SIG_BINDING: Final = "PH-SIG-006"
REQ_MALFORMED: Final = "PH-REQ-001"
REQ_PARTNER: Final = "PH-REQ-002"
CON_CREATED: Final = "PH-CON-001"
CON_UNKNOWN_TOKEN: Final = "PH-CON-002"  # noqa: S105 - a rule id, not a secret
CON_ONE_PER_ACCOUNT: Final = "PH-CON-003"
CON_UNKNOWN: Final = "PH-CON-004"
IDEM_RETRY: Final = "PH-IDEM-001"
IDEM_CONFLICT: Final = "PH-IDEM-002"
IDEM_SHARED_INDEX: Final = "PH-IDEM-003"
IDEM_RACE: Final = "PH-IDEM-004"
IDEM_SETTLED: Final = "PH-IDEM-005"
ALC_RESERVED: Final = "PH-ALC-001"
ALC_CLEARED: Final = "PH-ALC-002"
ALC_RELEASED: Final = "PH-ALC-003"
DEA_HOLDS: Final = "PH-DEA-001"
DEA_REJECTED: Final = "PH-DEA-002"
DEA_CLEARED: Final = "PH-DEA-003"
DEA_RELEASED: Final = "PH-DEA-004"
PUT_UNKNOWN: Final = "PH-PUT-001"
PUT_STATE: Final = "PH-PUT-002"
PUT_AGAIN: Final = "PH-PUT-003"
PUT_BODY: Final = "PH-PUT-004"
RESPONSES: Final = "PH-RSP-001"
