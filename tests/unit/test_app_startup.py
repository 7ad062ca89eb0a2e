"""Start-up shortcuts of `create_app` keep their promises: connexion's own spec check is skipped
only while our two (separately validated) specs are added, and is back for anyone after."""

from __future__ import annotations

from pathlib import Path

import pytest
from connexion.exceptions import InvalidSpecification
from connexion.spec import Specification
from openapi_spec_validator import validate as validate_openapi

from oeskit import spec
from oeskit.http.app import create_app, open_store
from tests.conftest import make_settings

BROKEN = {
    "openapi": "3.0.3",
    "info": {"title": "broken", "version": "1"},
    "paths": {"/x": {"get": {"responses": {"200": {"description": 42}}}}},
}


def test_connexion_still_checks_other_specs_after_an_app_is_built(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    store = open_store(settings)
    create_app(settings, store)
    store.close()
    with pytest.raises(InvalidSpecification):
        Specification.from_dict(BROKEN)


@pytest.mark.parametrize("path", [spec.contract_path(), spec.sandbox_path()], ids=["api", "sbx"])
def test_the_specs_connexion_trusts_are_valid_openapi(path: Path) -> None:
    """What the skipped check would have checked, checked here."""
    validate_openapi(spec.fresh_copy(path))


def test_fresh_copy_is_private_and_equal() -> None:
    first, second = spec.fresh_copy(spec.contract_path()), spec.fresh_copy(spec.contract_path())
    assert first == second
    first["paths"].clear()
    assert second["paths"] and spec.contract()["paths"]
