"""On SQLite, the write transactions of one process take turns in Python, not in SQLite's busy handler."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa

from stockwire.storage.database import Database


def test_a_waiting_writer_starts_as_soon_as_the_first_commits(tmp_path: Path) -> None:
    """The second writer gets the lock at once, not at SQLite's next busy retry (100 ms apart by then)."""
    db = Database(f"sqlite:///{tmp_path}/w.db")
    with db.write() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    with db.engine.connect(), db.engine.connect():
        pass  # two pooled connections, so neither writer waits while opening one
    inside = threading.Event()
    released: list[float] = []
    started: list[float] = []

    def first() -> None:
        with db.write() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            inside.set()
            # SQLite's busy handler would have slept 1+2+5+...+50 = 228 ms by now and be
            # halfway through a 100 ms sleep when this commits.
            time.sleep(0.24)
        released.append(time.monotonic())

    def second() -> None:
        inside.wait()
        with db.write() as conn:
            started.append(time.monotonic())
            conn.execute(sa.text("INSERT INTO t VALUES (2)"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert started[0] - released[0] < 0.03
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 2
    db.dispose()
