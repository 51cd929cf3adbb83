"""Build the served application from the environment (also uvicorn's factory for --workers)."""

from __future__ import annotations

from typing import Any

from stockwire.api.app import Startup, create_app
from stockwire.config import Settings
from stockwire.delivery.runner import dispatcher_extra
from stockwire.hub import Hub

# Background work that runs beside the API (the delivery dispatcher registers here).
EXTRAS: list[Startup] = []
EXTRAS.append(dispatcher_extra)


def build_app(settings: Settings | None = None, *, migrate: bool = True) -> Any:
    hub = Hub(settings or Settings.from_env())
    if migrate:
        hub.prepare()
    digest, _ = hub.admin_token_digest()
    extras = EXTRAS if hub.settings.run_dispatcher else []
    return create_app(hub, token_sha256=digest, extras=extras)


def app_factory() -> Any:
    """uvicorn --factory entry point; settings come from STOCKWIRE_* variables."""
    return build_app()
