"""Dispatchers as separate workers: leases of a dead worker come back; two workers share the work."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from stockwire.config import Settings
from stockwire.delivery.dispatcher import Dispatcher, DispatcherConfig
from stockwire.delivery.fanout import fan_out
from stockwire.delivery.models import Endpoint
from stockwire.delivery.sender import Sender, make_client
from stockwire.domain.models import OutboundEvent
from stockwire.notify import CommitSignal
from stockwire.storage import deliveries, outbox
from stockwire.storage import endpoints as endpoint_store
from stockwire.storage.database import Database, utcnow
from tests.receiver import Receiver, Receivers, create_endpoint
from tests.support import LiveServer, Shop

SECRET = "whsec_" + "B" * 40


class DispatcherThread:
    """A dispatcher on its own event loop in a thread, as a separate worker would run it."""

    def __init__(self, db: Database, config: DispatcherConfig) -> None:
        self.signal = CommitSignal()
        self.dispatcher = Dispatcher(db, self.signal, Sender(make_client(allow_private=True)), config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.dispatcher.run()
        await self.dispatcher.sender.aclose()

    def __enter__(self) -> DispatcherThread:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.dispatcher.stop)
        self.thread.join(timeout=15)


def test_a_dead_workers_claims_are_sent_again_after_the_lease(db: Database, receivers: Receivers) -> None:
    """Deliveries leased by a worker that died go out once the lease runs out (well within 30 s)."""
    hook = receivers.new()
    hook.secrets = [SECRET]
    with db.write() as conn:
        endpoint_store.insert(conn, Endpoint(id="ep", url=hook.url, secret=SECRET))
    with db.write() as conn:
        outbox.append(conn, [OutboundEvent(type="order.reserved", key="order:o1", data={"order_id": "o1"})])
    with db.write() as conn:
        fan_out(conn)
    now = utcnow()
    with db.write() as conn:
        taken = deliveries.claim(conn, "ep", 10, worker="dead", now=now, lease_until=now + dt.timedelta(seconds=2))
    assert len(taken) == 1
    started = time.monotonic()
    with DispatcherThread(db, DispatcherConfig(idle_wake=0.5)):
        (got,) = hook.wait_accepted(1, timeout=10)
    assert got.verified
    assert got.webhook_id == "evt_1"
    assert 1.5 <= got.at - started < 5


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, STOCKWIRE_DATABASE_URL=url, STOCKWIRE_ALLOW_PRIVATE_TARGETS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "stockwire.cli.main", "worker"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_deliver_2000_events_exactly_once(
    db_kind: str, db_url: str, tmp_path: Path, receivers: Receivers
) -> None:
    """Two `stockwire worker` processes on one PostgreSQL: every delivery is made exactly once."""
    if db_kind != "postgresql":
        pytest.skip("several workers need PostgreSQL")
    hooks: list[Receiver] = [receivers.new(), receivers.new()]
    server = LiveServer(Settings(database_url=db_url, allow_private_targets=True), extras=False).start()
    shop = Shop(server)
    workers = []
    try:
        shop.location("store-1")
        shop.channel("pos-1", "pos", ["store-1"])
        for hook in hooks:
            hook.secrets = [create_endpoint(shop.admin, hook.url)["secret"]]
        workers = [_worker(db_url, tmp_path / f"w{i}.log") for i in range(2)]
        for n in range(100):  # 10 skus per receipt: 10 inventory.updated + 10 availability.changed
            lines = [{"sku": f"S{n}-{i}", "quantity": 1} for i in range(10)]
            r = shop.send("pos-1", "receipt", {"location": "store-1", "lines": lines})
            assert r.status_code == 200, r.text
        for hook in hooks:
            hook.wait_accepted(2000, timeout=60)
        time.sleep(1.0)
        for hook in hooks:
            ids = Counter(r.webhook_id for r in hook.requests)
            assert len(ids) == 2000
            assert max(ids.values()) == 1
            assert all(r.verified for r in hook.requests)
        with Database(db_url).read() as conn:
            for ep in endpoint_store.list_all(conn):
                assert deliveries.counts(conn, ep.id) == {"delivered": 2000}
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=20)
        shop.close()
        server.stop()
    for i in range(2):
        assert "Traceback" not in (tmp_path / f"w{i}.log").read_text()
