"""Cycle-count imports: a whole file of counts for one location, applied once, all or nothing.

The counts go through the same rules as a native `count` event, in the
caller's transaction. A file is keyed by its sha256 under the pseudo-channel
`import:LOCATION` in the inbound receipts, so importing it again changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from stockwire.domain.models import Cause, Channel, ChannelKind, OutboundEvent
from stockwire.inbound.payloads import MAX_LINES, Counts, InboundEvent
from stockwire.inbound.service import Outcome, apply_event, load_catalog
from stockwire.storage import inbound as receipts

IMPORTER = Channel(id="import", name="count import", kind=ChannelKind.OTHER)


def receipt_channel(location: str) -> str:
    """The receipts key for imports into `location` (kept within the 128-character column)."""
    name = f"import:{location}"
    return name if len(name) <= 128 else "import:" + hashlib.sha256(location.encode()).hexdigest()


def import_counts(conn: Connection, *, location: str, counts: Sequence[tuple[str, int]], checksum: str,
                  source: str = "") -> Outcome:
    """Set on_hand for every (sku, on_hand) at `location`; a repeat of the same file is a duplicate.

    Raises Refusal (unknown location) so the caller rolls the whole import back.
    """
    key = receipt_channel(location)
    if not receipts.claim(conn, channel=key, event_id=checksum, body_sha256=checksum, type_="count"):
        first = receipts.find(conn, key, checksum)
        assert first is not None
        body = {"status": "duplicate", "import_id": checksum, "result": first.result}
        return Outcome(status=200, body=body)
    catalog = load_catalog(conn)
    cause = Cause(kind="count", admin="import", event_id=checksum, reason=source or None)
    events: list[OutboundEvent] = []
    changed = 0
    for start in range(0, len(counts), MAX_LINES):
        chunk = counts[start:start + MAX_LINES]
        counted = [{"sku": s, "on_hand": n} for s, n in chunk]
        data = Counts.model_validate({"location": location, "counts": counted})
        result, emitted = apply_event(conn, catalog, IMPORTER, InboundEvent(type="count", data=data), cause)
        changed += len(result.get("levels", []))
        events.extend(emitted)
    result = {"location": location, "rows": len(counts), "levels_changed": changed}
    receipts.set_result(conn, channel=key, event_id=checksum, result=result)
    return Outcome(status=200, body={"status": "applied", "import_id": checksum, "result": result},
                   events=tuple(events))
