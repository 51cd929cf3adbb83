"""What every bench needs: a fresh database and the real server in its own process."""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
import uuid
from collections.abc import Callable
from multiprocessing.process import BaseProcess

import httpx
import sqlalchemy as sa

TOKEN = "bench-token"  # noqa: S105 - a throwaway admin token for a local bench server
PG_URL = os.environ.get("STOCKWIRE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database(kind: str, folder: str) -> str:
    """A SQLite file in `folder`, or a new schema in the PostgreSQL test database."""
    if kind == "sqlite":
        return f"sqlite:///{folder}/bench.db"
    name = "bench_" + uuid.uuid4().hex[:8]
    engine = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    engine.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{name}"


def serve(database_url: str, port: int) -> None:
    """The app as `stockwire serve` builds it, without the dispatcher."""
    import uvicorn

    from stockwire.cli.serve import build_app
    from stockwire.config import Settings

    app = build_app(Settings(database_url=database_url, admin_token=TOKEN, run_dispatcher=False))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start(database_url: str, target: Callable[[str, int], None] = serve) -> tuple[BaseProcess, int]:
    """Run `target(database_url, port)` in a fresh process; return once /healthz answers."""
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(target=target, args=(database_url, port), daemon=True)
    proc.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the bench server did not start within 60 s")
