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
from stockwire.inbound.service import Outcome, Submission, apply_submissions, load_catalog, refusal_outcome
from stockwire.storage import outbox
from stockwire.storage.database import Database

log = structlog.get_logger(__name__)

MAX_BATCH = 128


@dataclass
class _Pending:
    submission: Submission
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Outcome]


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
        carry: list[_Pending] = []
        while True:
            if carry:
                batch, carry = carry, []
            else:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
            keys = {(p.submission.channel, p.submission.event_id) for p in batch}
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                key = (item.submission.channel, item.submission.event_id)
                if key in keys:
                    # The same event twice in one batch: the repeat waits for the next
                    # batch, where it is answered from the first one's receipt.
                    carry.append(item)
                    continue
                keys.add(key)
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        try:
            outcomes = self._commit(batch)
        except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.DataError) as exc:
            # A deadlock, a lost connection, or another process winning a unique key
            # aborts the whole batch; nothing of it committed. Apply each event alone
            # so one bad neighbour cannot fail the others.
            if len(batch) > 1:
                for item in batch:
                    self._write([item])
                return
            if isinstance(exc, sa.exc.IntegrityError):
                outcomes = [refusal_outcome(Refusal(
                    "a concurrent event claimed the same order or event id; retry to get its answer", status=409))]
            elif isinstance(exc, sa.exc.DataError):
                outcomes = [refusal_outcome(Refusal("a value in the event is out of range for storage"))]
            else:
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
        with self.db.write() as conn:
            outcomes = apply_submissions(conn, load_catalog(conn), [p.submission for p in batch])
            outbox.append(conn, [e for o in outcomes for e in o.events])
        return outcomes


def _deliver(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)
