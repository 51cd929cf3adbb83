"""Group commit: one writer thread applies queued events, a batch per transaction.

Each caller still gets its answer only after the transaction holding its own
event has committed. A refused event rolls back to its savepoint and leaves the
rest of the batch alone. SQLite allows one writer anyway, so funnelling writes
through one thread avoids lock fights; on PostgreSQL each process has one such
writer and row locks order them.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from stockwire.domain.errors import Refusal
from stockwire.inbound.service import Outcome, Submission, apply_submission, load_catalog
from stockwire.storage import outbox
from stockwire.storage.database import Database

log = structlog.get_logger(__name__)

MAX_BATCH = 128


@dataclass
class _Pending:
    submission: Submission
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Outcome]


def refusal_outcome(refusal: Refusal) -> Outcome:
    body = {
        "type": "about:blank",
        "title": "event refused" if refusal.status != 404 else "not found",
        "status": refusal.status,
        "detail": refusal.message,
    }
    if refusal.pointer:
        body["errors"] = [{"pointer": refusal.pointer, "detail": refusal.message}]
    return Outcome(status=refusal.status, body=body)


UNAVAILABLE = Outcome(
    status=503,
    body={"type": "about:blank", "title": "database unavailable", "status": 503,
          "detail": "the event was not applied; retry after the Retry-After delay"},
)


class EventWriter:
    """The single writer of inbound events in this process."""

    def __init__(self, db: Database, *, on_commit: Callable[[], None] | None = None,
                 max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="stockwire-writer", daemon=True)
        self._started = False
        self.batches = 0
        self.applied = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self) -> None:
        if self._started:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._started = False

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def submit(self, submission: Submission) -> Outcome:
        """Queue an event and wait until it is committed (or refused)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.put(_Pending(submission, loop, future))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        try:
            outcomes = self._commit(batch)
        except sa.exc.OperationalError as exc:
            # A deadlock or a lost connection aborts the whole batch; nothing of it
            # committed. Apply each event alone so one bad neighbour cannot fail others.
            if len(batch) > 1:
                for item in batch:
                    self._write([item])
                return
            log.warning("inbound.write_failed", error=str(exc.orig))
            outcomes = [UNAVAILABLE]
        except Exception:
            log.exception("inbound.write_crashed")
            if len(batch) > 1:
                for item in batch:
                    self._write([item])
                return
            outcomes = [
                Outcome(status=500, body={"type": "about:blank", "title": "internal error", "status": 500,
                                          "detail": "the event was not applied"})
            ]
        else:
            self.batches += 1
            self.applied += len(batch)
            if self._on_commit is not None and any(o.events for o in outcomes):
                self._on_commit()
        for item, outcome in zip(batch, outcomes, strict=True):
            item.loop.call_soon_threadsafe(_deliver, item.future, outcome)

    def _commit(self, batch: list[_Pending]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        with self.db.write() as conn:
            catalog = load_catalog(conn)
            events = []
            for item in batch:
                savepoint = conn.begin_nested()
                try:
                    outcome = apply_submission(conn, catalog, item.submission)
                except Refusal as refusal:
                    savepoint.rollback()
                    outcomes.append(refusal_outcome(refusal))
                    continue
                except sa.exc.IntegrityError:
                    # Another process applied the same order id or event id first.
                    savepoint.rollback()
                    outcomes.append(refusal_outcome(Refusal(
                        "a concurrent event claimed the same id; retry to get its answer", status=409)))
                    continue
                if outcome.status >= 300:
                    savepoint.rollback()
                else:
                    savepoint.commit()
                    events.extend(outcome.events)
                outcomes.append(outcome)
            outbox.append(conn, events)
        return outcomes


def _deliver(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)
