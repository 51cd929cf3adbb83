"""Running the dispatcher: beside the API in `stockwire serve`, or alone as `stockwire worker`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from typing import Any

import structlog

from stockwire.delivery import metrics
from stockwire.delivery.dispatcher import Dispatcher, DispatcherConfig
from stockwire.delivery.sender import Sender, make_client
from stockwire.hub import Hub

log = structlog.get_logger(__name__)
CONFIG_EXTENSION = "delivery.config"


def build_dispatcher(hub: Hub) -> Dispatcher:
    """A dispatcher for the hub's database; `hub.extensions["delivery.config"]` overrides the env."""
    config = hub.extensions.get(CONFIG_EXTENSION) or DispatcherConfig.from_env()
    sender = Sender(make_client(allow_private=hub.settings.allow_private_targets))
    return Dispatcher(hub.db, hub.signal, sender, config)


@contextlib.asynccontextmanager
async def dispatching(hub: Hub, _app: Any = None) -> AsyncIterator[Dispatcher]:
    """Deliver webhooks for as long as the block runs (the `serve` extra)."""
    dispatcher = build_dispatcher(hub)
    hub.extensions["delivery.dispatcher"] = dispatcher
    metrics.watch_backlog(hub.db)
    task = asyncio.create_task(dispatcher.run(), name="stockwire-dispatcher")
    log.info("dispatcher.started", worker=dispatcher.worker)
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        await task
        await dispatcher.sender.aclose()
        metrics.forget_backlog(hub.db)
        hub.extensions.pop("delivery.dispatcher", None)


def dispatcher_extra(hub: Hub, app: Any) -> contextlib.AbstractAsyncContextManager[None]:
    """`cli.serve.EXTRAS` entry: the dispatcher runs inside the API process."""

    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[None]:
        async with dispatching(hub, app):
            yield

    return run()


async def run_worker(hub: Hub) -> None:
    """`stockwire worker`: deliver until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    hub.start()
    try:
        async with dispatching(hub):
            await stop.wait()
    finally:
        hub.stop()
