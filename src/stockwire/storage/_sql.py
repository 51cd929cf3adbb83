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
) -> None:
    """Insert rows, or overwrite every non-key column where the key exists."""
    if not rows:
        return
    stmt = insert_for(conn, table)
    columns = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
    )
    conn.execute(stmt, list(rows))


def insert_missing(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], *, keys: Sequence[str]) -> None:
    """Insert rows whose key is not there yet; leave the others alone."""
    if not rows:
        return
    conn.execute(insert_for(conn, table).on_conflict_do_nothing(index_elements=list(keys)), list(rows))


def for_update(conn: Connection, stmt: Any) -> Any:
    """Row locks on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the only write lock."""
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt
