"""Rule ids of the sandbox control plane (catalogued in `http/sandbox.yaml`, not the contract)."""

from __future__ import annotations

SBX_ADMIN = "OES-SBX-001"  # 401 admin token missing or wrong
SBX_INVALID = "OES-SBX-002"  # 400 world or request body invalid
SBX_NOT_FOUND = "OES-SBX-003"  # 404 unknown dispute, settlement or connection
SBX_STATE = "OES-SBX-004"  # 409 not allowed in the current state (e.g. dispute after the window)
SBX_NO_PRIVATE_KEY = "OES-SBX-005"  # 409 the loaded world holds no private key to sign with
SBX_NAMESPACE_NAME = "OES-SBX-006"  # 400 a namespace name outside [a-z0-9-]{1,40}
SBX_NAMESPACE_LIMIT = "OES-SBX-007"  # 409 one namespace more than --max-namespaces
SBX_PARTNER = "OES-SBX-008"  # 502 the partner's hosted endpoint refused the call or never answered
SBX_OVERDRAW = "OES-SBX-009"  # 422 a deallocation larger than the connection's available balance
