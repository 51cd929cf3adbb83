"""Settings from the environment (`STOCKWIRE_*`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///./stockwire.db"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str | None = None
    allow_private_targets: bool = False
    max_body_bytes: int = 256 * 1024
    max_backlog: int = 20_000
    signature_tolerance: int = 300
    run_dispatcher: bool = True

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "database_url": env.get("STOCKWIRE_DATABASE_URL", DEFAULT_DATABASE_URL),
            "admin_token": env.get("STOCKWIRE_ADMIN_TOKEN") or None,
            "allow_private_targets": _flag(env.get("STOCKWIRE_ALLOW_PRIVATE_TARGETS")),
            "max_body_bytes": int(env.get("STOCKWIRE_MAX_BODY_BYTES", 256 * 1024)),
            "max_backlog": int(env.get("STOCKWIRE_MAX_BACKLOG", 20_000)),
            "run_dispatcher": env.get("STOCKWIRE_RUN_DISPATCHER", "1") != "0",
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
