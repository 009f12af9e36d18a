"""Fresh test databases made ahead of need: cloning the template costs a few hundred milliseconds (most of it the
~10 MB of catalogs every database carries), so a background thread keeps a few clones ready and drops used ones
while tests run, and a test takes a ready database at once."""

from __future__ import annotations

import queue
import threading
import uuid

import psycopg


class DatabasePool:
    def __init__(self, admin_url: str, template: str, ready: int = 2):
        self.admin_url, self.template = admin_url, template
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ready)
        self._used: queue.Queue[str] = queue.Queue()
        self._stopping = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-database-pool", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """The name of a fresh clone of the template, for one test."""
        while True:
            if self._failure is not None:
                raise RuntimeError("the test database pool failed") from self._failure
            try:
                return self._ready.get(timeout=1)
            except queue.Empty:
                continue

    def give_back(self, name: str) -> None:
        """A used database, dropped in the background."""
        self._used.put(name)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=60)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for pending in (self._ready, self._used):
                while not pending.empty():
                    conn.execute(f'DROP DATABASE IF EXISTS "{pending.get()}" WITH (FORCE)')

    def _run(self) -> None:
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                made: str | None = None
                while not self._stopping.is_set():
                    self._drop_used(conn)
                    if made is None:
                        made = f"cops_t_{uuid.uuid4().hex[:16]}"
                        conn.execute(f'CREATE DATABASE "{made}" TEMPLATE "{self.template}"')
                    try:
                        self._ready.put(made, timeout=0.2)
                        made = None
                    except queue.Full:
                        continue
                if made is not None:
                    conn.execute(f'DROP DATABASE IF EXISTS "{made}" WITH (FORCE)')
        except BaseException as exc:  # surfaced to the next test that asks
            self._failure = exc

    def _drop_used(self, conn: psycopg.Connection) -> None:
        while True:
            try:
                name = self._used.get_nowait()
            except queue.Empty:
                return
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
