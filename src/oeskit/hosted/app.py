"""The reference partner's ASGI app: `X-BitGo-Signature`, body checks, rules, JSON answers.

Each request goes: signature (`signing.bitgo_jwt`, then the `jti` remembered in the store) →
for a POST, the body validated against `partner-hosted.yaml` (through `oeskit.schemas`; the
schemas are written there only) → `rules` inside one store transaction, run on a worker thread
so racing requests really race → the record as the contract's JSON. A refusal answers
`{"error", "rule"}` with the status the contract's catalogue gives that rule.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from oeskit import schemas, spec
from oeskit.hosted import rules
from oeskit.hosted.rules import (
    Action,
    Amount,
    Connection,
    ConnectionRequest,
    Kind,
    Refused,
    Reservation,
    ReservationRequest,
)
from oeskit.hosted.store import HostedStore
from oeskit.signing import bitgo_jwt

log = logging.getLogger(__name__)

# Which rule a refused token breaks, by what `bitgo_jwt.verify` found wrong.
_TOKEN_RULES = {
    bitgo_jwt.MISSING: rules.SIG_MISSING,
    bitgo_jwt.INVALID: rules.SIG_INVALID,
    bitgo_jwt.EXPIRED: rules.SIG_EXPIRED,
    bitgo_jwt.TOO_LONG: rules.SIG_TOO_LONG,
    bitgo_jwt.UNBOUND: rules.SIG_UNBOUND,
}
# Seconds of clock skew forgiven on iat and exp; a jti is remembered this long after its exp.
LEEWAY = 5


@dataclass(frozen=True, slots=True)
class PartnerConfig:
    """Who the partner is and how it checks BitGo's calls."""

    partner_id: str
    bitgo_public_pem: str
    body_binding: bool = True  # check the method, path and bodySha256 claims


def create_app(
    config: PartnerConfig, store: HostedStore, clock: Callable[[], float] = time.time
) -> Starlette:
    """The partner's endpoints over `store`; `clock` gives the time tokens are checked at."""
    bitgo_jwt.load_public_pem(config.bitgo_public_pem)  # a bad key fails here, not per request
    contract = spec.load(spec.partner_hosted_path())
    statuses = {rule["id"]: int(rule["status"]) for rule in spec.rules_catalogue(contract)}
    validators = {
        operation_id: schemas.compile(
            contract,
            spec.operation(contract, operation_id)[2]["requestBody"]["content"]["application/json"][
                "schema"
            ],
            direction="request",
        )
        for operation_id in ("createConnection", "createAllocation", "createDeallocation")
    }

    def refusal(exc: Refused) -> JSONResponse:
        return JSONResponse({"error": exc.message, "rule": exc.rule}, statuses[exc.rule])

    async def check_signature(request: Request, body: bytes) -> None:
        now = int(clock())
        binding: dict[str, Any] = {}
        if config.body_binding:
            binding = {"method": request.method, "path": _path_as_sent(request), "body": body}
        try:
            claims = bitgo_jwt.verify(
                config.bitgo_public_pem,
                request.headers.get(bitgo_jwt.HEADER),
                now=now,
                leeway=LEEWAY,
                **binding,
            )
        except bitgo_jwt.TokenRejected as exc:
            raise Refused(_TOKEN_RULES[exc.kind], exc.reason) from exc
        fresh = await run_in_threadpool(
            store.remember_jti, str(claims["jti"]), int(claims["exp"]) + LEEWAY, now
        )
        if not fresh:
            raise Refused(rules.SIG_REPLAYED, f"the token id (jti) {claims['jti']} was seen before")

    def endpoint(
        operation_id: str | None, work: Callable[[Request, Any], Callable[[Any], Any]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            body = await request.body()
            try:
                await check_signature(request, body)
                # The PUTs need no body and ignore one (PH-PUT-004): only POST bodies are read.
                fields = _json_body(body, validators[operation_id]) if operation_id else None
                record = await run_in_threadpool(store.run, work(request, fields))
            except Refused as exc:
                return refusal(exc)
            return JSONResponse(_present(record))

        return handle

    def connect(_: Request, fields: Any) -> Callable[[Any], Connection]:
        parsed = ConnectionRequest(
            client_id=fields["clientId"],
            connection_id=fields["connectionId"],
            connection_token=fields["connectionToken"],
            partner_id=fields["partnerId"],
        )
        return lambda book: rules.connect(book, config.partner_id, parsed)

    def reserve(kind: Kind) -> Callable[[Request, Any], Callable[[Any], Reservation]]:
        def work(_: Request, fields: Any) -> Callable[[Any], Reservation]:
            parsed = _reservation_request(kind, fields)
            return lambda book: rules.reserve(book, parsed)

        return work

    def settle(kind: Kind, action: Action) -> Callable[[Request, Any], Callable[[Any], Any]]:
        def work(request: Request, _: Any) -> Callable[[Any], Reservation]:
            reservation_id = str(request.path_params["reservation_id"])
            return lambda book: rules.settle(book, kind, reservation_id, action)

        return work

    routes = [
        Route("/bitgo/v1/connections", endpoint("createConnection", connect), methods=["POST"]),
        Route(
            "/bitgo/v1/allocations",
            endpoint("createAllocation", reserve(Kind.ALLOCATION)),
            methods=["POST"],
        ),
        Route(
            "/bitgo/v1/deallocations",
            endpoint("createDeallocation", reserve(Kind.DEALLOCATION)),
            methods=["POST"],
        ),
    ]
    for kind in Kind:
        for action in Action:
            routes.append(
                Route(
                    f"/bitgo/v1/{kind.value}/{{reservation_id}}/{action.value}",
                    endpoint(None, settle(kind, action)),
                    methods=["PUT"],
                )
            )
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )


def _path_as_sent(request: Request) -> str:
    """The request target as the client sent it: raw path, and the query string if any."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    query = request.scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def _json_body(body: bytes, validator: schemas.Validator) -> dict[str, Any]:
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(rules.REQ_MALFORMED, f"the body is not JSON: {exc}") from exc
    problems = validator.problems(fields, limit=1)
    if problems:
        problem = problems[0]
        raise Refused(rules.REQ_MALFORMED, f"{problem.where}: {problem.message}"[:500])
    assert isinstance(fields, dict)
    return fields


def _reservation_request(kind: Kind, fields: dict[str, Any]) -> ReservationRequest:
    id_field = "allocationId" if kind is Kind.ALLOCATION else "deallocationId"
    return ReservationRequest(
        kind=kind,
        id=fields[id_field],
        amount=Amount(fields["amount"]["currency"], int(fields["amount"]["quantity"])),
        client_id=fields["clientId"],
        connection_id=fields["connectionId"],
        partners_connection_id=fields["partnersConnectionId"],
        partners_client_id=fields["partnersClientId"],
    )


def _present(record: Connection | Reservation) -> dict[str, Any]:
    """A record as the contract's JSON (the one place that knows the field names)."""
    if isinstance(record, Connection):
        return {
            "clientId": record.client_id,
            "connectionId": record.connection_id,
            "partnersClientId": record.partners_client_id,
            "partnersConnectionId": record.partners_connection_id,
        }
    request = record.request
    noun = "allocation" if request.kind is Kind.ALLOCATION else "deallocation"
    body: dict[str, Any] = {
        f"{noun}Id": request.id,
        "amount": {"currency": request.amount.currency, "quantity": str(request.amount.quantity)},
        "clientId": request.client_id,
        "connectionId": request.connection_id,
        "partnersConnectionId": request.partners_connection_id,
        "partnersClientId": request.partners_client_id,
        f"partners{noun.capitalize()}Id": record.partner_ref,
        "status": record.status.value,
    }
    if record.rejection_reason is not None:
        body["rejectionReason"] = record.rejection_reason
    return body


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "no such route", 405: f"method {request.method} is not allowed here"}
    return JSONResponse(
        {"error": message.get(exc.status_code, str(exc.detail))},
        exc.status_code,
        headers=exc.headers,
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "unexpected error; see the partner's log"}, 500)
