"""Test helpers: databases on SQLite and PostgreSQL, a live server, a signing client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa
import uvicorn

from stockwire import signatures
from stockwire.api.app import create_app
from stockwire.api.auth import token_digest
from stockwire.cli.serve import EXTRAS
from stockwire.config import Settings
from stockwire.hub import Hub

ADMIN_TOKEN = "test-admin-token"
POSTGRES_URL = os.environ.get("STOCKWIRE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"),
                                  connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the test database; yields a URL whose search_path is that schema."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={name}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def database_url(kind: str, tmp_path: Any) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/stockwire.db"
    else:
        with postgres_schema() as url:
            yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app under uvicorn on a loopback port, in a background thread."""

    def __init__(self, settings: Settings, *, extras: bool = True) -> None:
        self.hub = Hub(settings)
        self.hub.prepare()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(self.hub, token_sha256=token_digest(ADMIN_TOKEN), extras=list(EXTRAS) if extras else [])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)


def signed_headers(secret: str, body: bytes, msg_id: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    msg_id = msg_id or "msg_" + uuid.uuid4().hex
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signatures.sign([signatures.secret_key(secret)], msg_id, ts, body),
        "content-type": "application/json",
    }


class Shop:
    """A small shop set up through the admin API, with a way to send signed channel events."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.admin = server.admin()
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.secrets: dict[str, str] = {}

    def location(self, id_: str, kind: str = "store") -> None:
        r = self.admin.post("/v1/locations", json={"id": id_, "name": id_, "kind": kind})
        assert r.status_code == 201, r.text

    def channel(self, id_: str, kind: str, locations: list[str], **extra: Any) -> dict[str, Any]:
        r = self.admin.post("/v1/channels", json={"id": id_, "name": id_, "kind": kind, "locations": locations,
                                                  **extra})
        assert r.status_code == 201, r.text
        self.secrets[id_] = r.json()["secret"]
        return dict(r.json())

    def send(self, channel: str, type_: str, data: dict[str, Any], msg_id: str | None = None) -> httpx.Response:
        body = json.dumps({"type": type_, "data": data}).encode()
        return self.http.post(f"/v1/inbound/{channel}", content=body,
                              headers=signed_headers(self.secrets[channel], body, msg_id))

    def stock(self, sku: str) -> dict[str, Any]:
        r = self.admin.get(f"/v1/stock/{sku}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def level(self, sku: str, location: str) -> dict[str, Any]:
        for lv in self.stock(sku)["locations"]:
            if lv["location"] == location:
                return dict(lv)
        raise AssertionError(f"no level for {sku} at {location}")

    def shown(self, sku: str, channel: str) -> int:
        for ch in self.stock(sku)["channels"]:
            if ch["channel"] == channel:
                return int(ch["available"])
        raise AssertionError(f"no channel {channel}")

    def close(self) -> None:
        self.admin.close()
        self.http.close()


class ServerProcess:
    """`stockwire serve` as a real separate process (for several-process tests)."""

    def __init__(self, database_url: str, *, extra_env: dict[str, str] | None = None) -> None:
        import subprocess
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, STOCKWIRE_ADMIN_TOKEN=ADMIN_TOKEN, STOCKWIRE_ALLOW_PRIVATE_TARGETS="1",
                   **(extra_env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stockwire.cli.main", "serve", "--port", str(self.port),
             "--database-url", database_url],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 30) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except Exception:
            self.proc.kill()
