"""The running hub: database, event writer, commit signal and caches, wired once."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from stockwire.api.auth import new_token, token_digest
from stockwire.config import Settings
from stockwire.inbound.writer import EventWriter
from stockwire.notify import CommitSignal
from stockwire.storage import catalog, migrate, schema
from stockwire.storage.catalog import ChannelRecord
from stockwire.storage.database import Database
from stockwire.storage.listener import CommitListener

CHANNEL_CACHE_SECONDS = 1.0
TOKEN_SETTING = "admin_token_sha256"  # noqa: S105 - the name of a setting, not a secret


class ChannelCache:
    """Channel records for the inbound hot path, re-read at most once a second.

    Misses always go to the database, so a channel created in another process is
    seen at once; a rotated secret is seen within a second.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._entries: dict[str, tuple[float, ChannelRecord]] = {}

    def invalidate(self, channel_id: str | None = None) -> None:
        if channel_id is None:
            self._entries.clear()
        else:
            self._entries.pop(channel_id, None)

    async def get(self, channel_id: str) -> ChannelRecord | None:
        hit = self._entries.get(channel_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < CHANNEL_CACHE_SECONDS:
            return hit[1]
        record = await run_in_threadpool(self._load, channel_id)
        if record is not None:
            self._entries[channel_id] = (now, record)
        else:
            self._entries.pop(channel_id, None)
        return record

    def _load(self, channel_id: str) -> ChannelRecord | None:
        with self.db.read() as conn:
            return catalog.get_channel(conn, channel_id)


class Hub:
    """Everything one process of the hub shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.signal = CommitSignal()
        self.writer = EventWriter(self.db, on_commit=self.signal.fire)
        self.channels = ChannelCache(self.db)
        self.extensions: dict[str, Any] = {}
        self._listener: CommitListener | None = None

    def prepare(self) -> None:
        """Migrate the schema; call once before serving."""
        migrate.upgrade(self.db)

    def start(self) -> None:
        self.writer.start()
        if not self.db.is_sqlite:
            # Other processes' commits wake this one's dispatcher and feed readers too.
            self._listener = CommitListener(self.db.url, self.signal.fire)
            self._listener.start()

    def stop(self) -> None:
        self.writer.stop()
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self.db.dispose()

    def admin_token_digest(self) -> tuple[str, str | None]:
        """The admin token's digest, and the token itself if it was just generated.

        STOCKWIRE_ADMIN_TOKEN wins; else a token kept (as a digest) in the
        database; else a new one, stored now and shown to the operator once.
        """
        if self.settings.admin_token:
            return token_digest(self.settings.admin_token), None
        table = schema.settings
        with self.db.write() as conn:
            row = conn.execute(sa.select(table.c.value).where(table.c.name == TOKEN_SETTING)).first()
            if row is not None:
                return str(row.value), None
            token = new_token()
            conn.execute(table.insert().values(name=TOKEN_SETTING, value=token_digest(token)))
        return token_digest(token), token

    def rotate_admin_token(self) -> str:
        token = new_token()
        table = schema.settings
        with self.db.write() as conn:
            conn.execute(table.delete().where(table.c.name == TOKEN_SETTING))
            conn.execute(table.insert().values(name=TOKEN_SETTING, value=token_digest(token)))
        return token
