"""The folder behind namespaces: one file each, the limit held across processes by a lock."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from oeskit.errors import NamespaceLimit
from oeskit.store.namespace_files import NamespaceFiles


def test_create_list_remove(tmp_path: Path) -> None:
    files = NamespaceFiles(str(tmp_path / "main.db"), limit=2)
    assert files.names() == []
    files.create("b")
    files.create("a")
    files.create("a")  # exists: nothing to do, and it does not count twice
    assert files.names() == ["a", "b"]
    assert files.path("a") == str(tmp_path / "main.db.namespaces" / "a.db")
    with pytest.raises(NamespaceLimit, match="limit of 2 namespaces"):
        files.create("c")
    assert files.names() == ["a", "b"]
    before = files.identity("a")
    assert files.remove("a") is True
    assert files.identity("a") is None
    assert files.remove("a") is False
    files.create("a")
    assert files.identity("a") is not None
    files.remove_all()
    assert files.names() == []
    assert before is not None


def test_in_memory_namespaces_count_too() -> None:
    files = NamespaceFiles(":memory:", limit=1)
    files.create("a")
    assert files.path("a") == ":memory:"
    with pytest.raises(NamespaceLimit):
        files.create("b")
    assert files.remove("a") and files.names() == []


def _create(folder: str, name: str, results: multiprocessing.Queue[str]) -> None:
    try:
        NamespaceFiles(folder, limit=4).create(name)
        results.put("created")
    except NamespaceLimit:
        results.put("refused")


def test_the_limit_holds_when_processes_race(tmp_path: Path) -> None:
    """Twelve processes creating twelve namespaces at once under a limit of 4: exactly four
    files, eight refusals (the count and the creation happen under one lock)."""
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[str] = context.Queue()
    db = str(tmp_path / "main.db")
    processes = [context.Process(target=_create, args=(db, f"n{i}", results)) for i in range(12)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in processes)
    assert outcomes == ["created"] * 4 + ["refused"] * 8
    assert len(NamespaceFiles(db, limit=4).names()) == 4
