"""The sandbox as a client test sees it, over HTTP only: the control plane (merge a world, arm
and clear faults, read the request log) and the partner's own read route (its settlements)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from oeskit.clienttest.world import RunWorld

SETTLEMENTS = "/api/network/v1/enterprises/{enterprise}/partners/settlements"


class SandboxError(RuntimeError):
    """The sandbox refused a control-plane call the run needs (a usage error for the CLI)."""


class Sandbox:
    def __init__(self, base_url: str, admin_token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {admin_token}"},
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, "/sandbox" + path, **kwargs)
        except httpx.HTTPError as exc:
            raise SandboxError(f"{method} /sandbox{path}: {exc}") from exc
        if response.status_code != 200:
            raise SandboxError(
                f"{method} /sandbox{path} answered {response.status_code}: {response.text[:300]}"
            )
        data: dict[str, Any] = response.json()
        return data

    def merge(self, world: RunWorld) -> None:
        self._call("POST", "/world", params={"mode": "merge"}, json=world.document())

    def arm(self, fault: dict[str, object]) -> None:
        self._call("POST", "/faults", json=fault)

    def armed(self, enterprise_id: str) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._call(
            "GET", "/faults", params={"enterpriseId": enterprise_id}
        )["faults"]
        return faults

    def disarm(self, enterprise_id: str) -> None:
        self._call("DELETE", "/faults", params={"enterpriseId": enterprise_id})

    def requests(self, enterprise_id: str) -> list[dict[str, Any]]:
        """The enterprise's logged requests in the order they arrived (the log's own order is
        that of the answers: a held answer comes after the requests that overtook it)."""
        rows: list[dict[str, Any]] = self._call(
            "GET",
            "/requests",
            params={"enterpriseId": enterprise_id, "limit": 10_000, "signatures": "true"},
        )["requests"]
        return sorted(rows, key=lambda r: (r["receivedAt"], int(r["id"])))

    def wait_logged(self, enterprise_id: str, fault: str, timeout_s: float) -> None:
        """Wait until a request that met `fault` is in the log (a held answer is logged only
        once it is sent, which may be after the client gave up on it and finished)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(r.get("fault") == fault for r in self.requests(enterprise_id)):
                return
            time.sleep(0.05)

    def settlements(self, world: RunWorld) -> list[dict[str, Any]]:
        """Every settlement of the run's partner, read as the partner."""
        response = self.http.get(
            SETTLEMENTS.format(enterprise=world.enterprise_id),
            params={"pageSize": 1000},
            headers={"Authorization": f"Bearer {world.token}"},
        )
        if response.status_code != 200:
            raise SandboxError(
                f"listing the run's settlements answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        settlements: list[dict[str, Any]] = response.json()["settlements"]
        return settlements
