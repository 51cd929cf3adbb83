"""PostgreSQL LISTEN: hear other processes' commits as soon as they happen."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import structlog
from sqlalchemy.engine import make_url

from stockwire.storage.outbox import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)


def _libpq_url(sqlalchemy_url: str) -> str:
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class CommitListener:
    """A thread that calls `on_notify` whenever any process commits outbox events.

    Reconnects on its own; after a reconnect it calls `on_notify` once, since
    notifications sent while it was away are lost.
    """

    def __init__(self, sqlalchemy_url: str, on_notify: Callable[[], None]) -> None:
        self._url = _libpq_url(sqlalchemy_url)
        self._on_notify = on_notify
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stockwire-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._on_notify()
                    while not self._stop.is_set():
                        if any(True for _ in conn.notifies(timeout=0.5, stop_after=64)):
                            self._on_notify()
            except psycopg.Error as exc:
                log.warning("listen.reconnecting", error=str(exc))
                time.sleep(1)
