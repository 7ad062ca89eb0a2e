"""Stable ids of every business rule the reference enforces.

The statement and HTTP status of each rule live in the contract (`x-oeskit-rules` in
`openapi.yaml`); this module only names the ids so code never scatters magic strings.
A test proves this list and the catalogue are the same set.
"""

from __future__ import annotations

# Authentication and access (steps 1, 3, 4 of the staging path)
AUTH_TOKEN = "OES-AUTH-001"  # noqa: S105 - a rule id, not a secret. 401 bearer token missing, malformed or unknown
AUTH_SCOPE = "OES-AUTH-002"  # 403 token lacks a required scope
AUTH_MEMBER = "OES-AUTH-003"  # 401 caller is not a member of the enterprise
ACC_LICENSE = "OES-ACC-001"  # 403 enterprise has no OES license
ACC_PARTNER = "OES-ACC-002"  # 403 enterprise is not an OES partner
ACC_INACTIVE = "OES-ACC-003"  # 403 partner is inactive
ACC_DISPUTES = "OES-ACC-004"  # 403 partner does not have disputes enabled (use v1)

# Request shape (step 2)
REQ_JSON = "OES-REQ-001"  # 400 body is not JSON (or not UTF-8)
REQ_SCHEMA = "OES-REQ-002"  # 400 body or parameters fail the contract's schema
REQ_TOO_LARGE = "OES-REQ-003"  # 413 body exceeds the size limit
REQ_NOT_FOUND = "OES-REQ-004"  # 404 no such route
REQ_METHOD = "OES-REQ-005"  # 405 route exists, method does not
REQ_MEDIA_TYPE = "OES-REQ-006"  # 415 body is not application/json
REQ_TIMEOUT = "OES-REQ-007"  # 408 body did not arrive in time
REQ_HEADERS = "OES-REQ-008"  # 431 the request's headers exceed the size limit
REQ_TOO_LONG = "OES-REQ-009"  # 400 a string or array past its documented maxLength or maxItems

# Signature and payload binding (steps 5, 6)
SIG_MALFORMED = "OES-SIG-001"  # 400 signature is not well formed for the key's scheme
SIG_PAYLOAD_JSON = "OES-SIG-002"  # 400 payload is not a JSON object
SIG_PAYLOAD_MISMATCH = "OES-SIG-003"  # 400 payload's signed fields differ from the body
SIG_INVALID = "OES-SIG-004"  # 401 signature does not verify against any registered key

# Idempotency (step 7)
IDEM_REPLAY = "OES-IDEM-001"  # 200 same externalId, same properties: stored settlement
IDEM_CONFLICT = "OES-IDEM-002"  # 409 same externalId, different properties
IDEM_NONCE = "OES-IDEM-003"  # 409 nonce reused while the partner enforces unique nonces

# Semantic validation of settlementAmounts (step 8)
AMT_SHAPE = "OES-AMT-001"  # 400 neither of the two settlementAmounts shapes
AMT_CONNECTION = "OES-AMT-002"  # 400 connection id unknown, not a UUID, or another partner's
AMT_CURRENCY = "OES-AMT-003"  # 400 currency code not supported by the partner
AMT_FORMAT = "OES-AMT-004"  # 400 amount is not a number in the partner's format
AMT_ZERO = "OES-AMT-005"  # 400 amount is zero
AMT_DECIMALS = "OES-AMT-006"  # 400 more fractional digits than the currency has
AMT_BROKER_NET = "OES-AMT-007"  # 400 broker amounts do not net to zero per currency
AMT_SELF_PAIR = "OES-AMT-008"  # 400 a connection settles with itself (nested shape)

# Allocated balance (step 9)
BAL_LIABILITY = "OES-BAL-001"  # 422 liabilities of a connection exceed its allocated balance

# Staging effects (step 10)
STG_CREATED = "OES-STG-001"  # 200 pending settlement with one transfer per amount
STG_DISPUTES = "OES-STG-002"  # closed approved unassigned disputes join the next settlement
STG_HOLD = "OES-STG-003"  # each connection's net liability moves from available to held
STG_NOTIFY = "OES-STG-004"  # every connection owner gets a settlement.created notification
STG_FINALIZE = "OES-STG-005"  # a finalize job is queued at the end of the windows

# Lifecycle (domain.md 8.9)
LIF_WITHHOLD = "OES-LIF-001"  # at the dispute window's end, disputed connections are withheld
LIF_EXECUTE = "OES-LIF-002"  # at the top-up window's end, transfers complete, funds move
LIF_FAILED = "OES-LIF-003"  # partner short of funds: failed with a reason; replay retries

# Read routes
READ_NOT_FOUND = "OES-READ-001"  # 404 settlement unknown or another partner's
READ_QUERY = "OES-READ-002"  # 400 query parameter malformed

# Server
SRV_INTERNAL = "OES-SRV-001"  # 500 unexpected fault (the settlement, if committed, is kept)
SRV_BUSY = "OES-SRV-002"  # 503 database saturated, retry after the Retry-After delay
SRV_STORAGE = "OES-SRV-003"  # 503 the disk is full or the database read-only: nothing written
SRV_STORE_GONE = "OES-SRV-004"  # 503 the database file was deleted or replaced: restart

# Allocations and deallocations a partner with async allocations reports (PUT .../partners/...)
ALC_UNKNOWN = "OES-ALC-001"  # 404 no allocation/deallocation of this partner with this id
ALC_MISMATCH = "OES-ALC-002"  # 422 the update's ids or amount differ from the record
ALC_STATE = "OES-ALC-003"  # 409 the record is not awaiting the partner's update
ALC_PAYLOAD = "OES-ALC-004"  # 400 payload is not the JSON of the body's other fields
ALC_REASON = "OES-ALC-005"  # 400 released without rejectReason, or cleared with one
ALC_EFFECT = "OES-ALC-006"  # 200 cleared allocations raise available; deallocations lower it
