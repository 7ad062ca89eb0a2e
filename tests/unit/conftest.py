"""The domain unit tests' store: each test of a module that uses `domain_stores` runs on SQLite
and on PostgreSQL (the `store_backend` parameter, see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import StoreBackend
from tests.unit import domain_support


@pytest.fixture
def domain_stores(store_backend: StoreBackend) -> Iterator[domain_support.DomainStores]:
    stores = domain_support.DomainStores(store_backend)
    token = domain_support.CURRENT.set(stores)
    try:
        yield stores
    finally:
        domain_support.CURRENT.reset(token)
        stores.close()
