"""Background WAL checkpoints on a thread of their own.

In WAL mode with synchronous=NORMAL the checkpoint is the only step that fsyncs. Run inline (by
SQLite every N pages, or from the event loop) it stalled every request behind it for tens to
hundreds of milliseconds; on its own connection and thread it blocks nobody (PASSIVE mode never
waits for readers or writers).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading


class Checkpointer:
    def __init__(self, path: str, interval_s: float = 1.0) -> None:
        self.path = path
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.path == ":memory:" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="oeskit-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval_s):
                with contextlib.suppress(sqlite3.OperationalError):  # busy: next tick
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()
