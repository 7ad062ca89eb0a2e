"""The records and enums that cross the Store port: their values are the contract's and the
stored TEXT, and no module outside store/ reads a row by column name any more."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from oeskit import spec
from oeskit.domain.records import (
    ClosedBy,
    ClosureStatus,
    SettlementStatus,
    TransferStatus,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "oeskit"
# A subscript by a snake_case name is a column name: rows belong to store/ (request bodies
# and the contract's JSON use camelCase).
COLUMN_SUBSCRIPT = re.compile(r"""\[["'][a-z]+_[a-z_]+["']\]""")


@pytest.mark.parametrize(
    ("enum", "schema"),
    [
        pytest.param(SettlementStatus, "SettlementStatuses", id="settlement"),
        pytest.param(TransferStatus, "SettlementTransferStatus", id="transfer"),
        pytest.param(ClosedBy, "ClosedByUnion", id="closedBy"),
        pytest.param(ClosureStatus, "DisputeClosureReviewStatus", id="closure"),
    ],
)
def test_status_enums_are_values_of_the_contract(enum: type[StrEnum], schema: str) -> None:
    """Every status the records can hold is one the contract's enum lets partners read."""
    allowed = set(spec.contract()["components"]["schemas"][schema]["enum"])
    assert {member.value for member in enum} <= allowed


def test_statuses_compare_and_format_as_their_stored_text() -> None:
    """StrEnum members are their TEXT: SQL parameters and JSON stay byte for byte the same."""
    assert TransferStatus.PENDING_SETTLEMENT_ASSIGNMENT == "pending_settlement_assignment"
    assert f"{SettlementStatus.FAILED}" == "failed"


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(path, id=str(path.relative_to(SRC)))
        for path in [*sorted((SRC / "domain").glob("*.py")), SRC / "http" / "presenters.py"]
    ],
)
def test_no_column_name_subscripts_outside_store(module: Path) -> None:
    """domain/ and the presenters work on typed records, not on rows keyed by column name."""
    assert COLUMN_SUBSCRIPT.findall(module.read_text()) == []
