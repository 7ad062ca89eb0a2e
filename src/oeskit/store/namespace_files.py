"""Where namespaces live on disk: one SQLite file per namespace in a folder beside the main
database (`oeskit.db` -> `oeskit.db.namespaces/run-42.db`).

The folder is the registry every worker process shares: a namespace exists when its file does.
Creating one takes an exclusive lock on `.lock` in the folder, so two workers racing to create
the 64th and 65th namespace cannot both pass the limit. With `--db :memory:` nothing is on disk
and each namespace is an in-memory database of this process."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from oeskit.errors import NamespaceLimit
from oeskit.store.connection import file_identity

MEMORY = ":memory:"
SUFFIX = ".db"
_SIDE_FILES = ("-wal", "-shm", "-journal")


class NamespaceFiles:
    def __init__(self, db: str, limit: int) -> None:
        self.limit = limit
        self.folder = None if db == MEMORY else Path(db + ".namespaces")
        self._in_memory: set[str] = set()

    def path(self, name: str) -> str:
        return MEMORY if self.folder is None else str(self.folder / (name + SUFFIX))

    def names(self) -> list[str]:
        if self.folder is None:
            return sorted(self._in_memory)
        if not self.folder.is_dir():
            return []
        return sorted(p.name[: -len(SUFFIX)] for p in self.folder.glob("*" + SUFFIX))

    def identity(self, name: str) -> int | None:
        """The file's inode: it changes (or goes) when another worker deletes the namespace."""
        if self.folder is None:
            return 0 if name in self._in_memory else None
        return file_identity(self.path(name))

    def create(self, name: str) -> None:
        """Make room for `name` (an empty file), or raise NamespaceLimit; a no-op if it exists."""
        if self.folder is None:
            if name not in self._in_memory and len(self._in_memory) >= self.limit:
                raise NamespaceLimit(self.limit)
            self._in_memory.add(name)
            return
        with self._locked():
            path = Path(self.path(name))
            if path.exists():
                return
            if len(self.names()) >= self.limit:
                raise NamespaceLimit(self.limit)
            path.touch()

    def remove(self, name: str) -> bool:
        """Delete the namespace's files; False if it did not exist."""
        if self.folder is None:
            found = name in self._in_memory
            self._in_memory.discard(name)
            return found
        with self._locked():
            path = self.path(name)
            if not os.path.exists(path):
                return False
            for suffix in _SIDE_FILES:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path + suffix)
            os.unlink(path)
            return True

    def remove_all(self) -> None:
        """Delete every namespace (`oeskit serve --fresh`)."""
        for name in self.names():
            self.remove(name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
