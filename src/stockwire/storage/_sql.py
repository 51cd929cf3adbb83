"""Small dialect-aware helpers shared by the storage modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that knows ON CONFLICT on both PostgreSQL and SQLite."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    only: Sequence[str] | None = None,
) -> None:
    """Insert rows, or overwrite every non-key column (or just `only`) where the key exists."""
    if not rows:
        return
    stmt = insert_for(conn, table)
    columns = list(only) if only is not None else [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
    )
    conn.execute(_batched(conn, stmt, table, keys), list(rows))


def insert_missing(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], *, keys: Sequence[str]) -> None:
    """Insert rows whose key is not there yet; leave the others alone."""
    if not rows:
        return
    stmt = insert_for(conn, table).on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(_batched(conn, stmt, table, keys), list(rows))


def _batched(conn: Connection, stmt: Any, table: sa.Table, keys: Sequence[str]) -> Any:
    """On PostgreSQL, make an executemany one multi-row statement.

    SQLAlchemy batches INSERTs into multi-row VALUES ("insertmanyvalues") only
    when they return something or carry no ON CONFLICT; asking for the key back
    turns a per-row round trip into one statement. SQLite's executemany already
    runs in C without round trips.
    """
    if conn.dialect.name != "postgresql":
        return stmt
    return stmt.returning(*(table.c[k] for k in keys))


def for_update(conn: Connection, stmt: Any) -> Any:
    """Row locks on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the only write lock."""
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt
