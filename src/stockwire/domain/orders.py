"""Orders: reserve stock for them, route them to a warehouse, ship or cancel them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from stockwire.domain.book import StockBook
from stockwire.domain.errors import Refusal
from stockwire.domain.models import (
    OPEN_ORDER_STATUSES,
    Allocation,
    Cause,
    Channel,
    Line,
    MovementKind,
    Order,
    OrderLine,
    OrderPolicy,
    OrderStatus,
    OutboundEvent,
)


@dataclass(frozen=True, kw_only=True)
class Shortage:
    sku: str
    requested: int
    available: int

    def as_dict(self) -> dict[str, object]:
        return {"sku": self.sku, "requested": self.requested, "available": self.available}


def order_key(channel: str, order_id: str) -> str:
    return f"order:{channel}:{order_id}"


def demand(lines: Iterable[Line | OrderLine]) -> dict[str, int]:
    """Units wanted per sku, lines of the same sku added up."""
    wanted: dict[str, int] = {}
    for line in lines:
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    return wanted


def shortages_at(book: StockBook, location: str, wanted: Mapping[str, int]) -> list[Shortage]:
    """The skus `location` cannot supply in full."""
    return [
        Shortage(sku=sku, requested=qty, available=book.available(sku, location))
        for sku, qty in wanted.items()
        if book.available(sku, location) < qty
    ]


def place_order(
    book: StockBook,
    channel: Channel,
    order_id: str,
    lines: Sequence[Line],
    *,
    fulfillers: Mapping[str, str],
    cause: Cause,
    ship_to: dict[str, object] | None = None,
    customer: dict[str, object] | None = None,
) -> tuple[Order, dict[str, object]]:
    """Reserve a new order all-or-nothing (or line by line under `split`), or reject it.

    Returns the order and the answer the placing channel gets at once.
    """
    order = Order(
        channel=channel.id,
        order_id=order_id,
        status=OrderStatus.RESERVED,
        lines=tuple(OrderLine(sku=ln.sku, quantity=ln.quantity) for ln in lines),
        ship_to=ship_to,
        customer=customer,
    )
    return _route(book, channel, order, fulfillers=fulfillers, cause=cause)


def _route(
    book: StockBook,
    channel: Channel,
    order: Order,
    *,
    fulfillers: Mapping[str, str],
    cause: Cause,
    reject_reason: str = "insufficient stock",
) -> tuple[Order, dict[str, object]]:
    candidates = [loc for loc in channel.locations if loc not in order.tried_locations]
    wanted = demand(order.lines)
    if channel.order_policy is OrderPolicy.SPLIT:
        plan, short = _split_plan(book, candidates, order.lines)
    else:
        plan, short = _whole_plan(book, candidates, order.lines, wanted)
    if plan is None:
        return _reject(book, order, short, reason=reject_reason)

    lines = []
    for line, allocations in zip(order.lines, plan, strict=True):
        for a in allocations:
            book.move(MovementKind.RESERVE, line.sku, a.location, reserved=a.reserved, cause=cause)
        lines.append(replace(line, allocations=allocations))
    reserved = replace(order, lines=tuple(lines), status=OrderStatus.RESERVED, reason=None)
    reserved = replace(reserved, location=reserved.locations[0], version=order.version + 1)
    book.emit(_order_event("order.reserved", reserved, fulfillers))
    requested = False
    for location in reserved.locations:
        wms = fulfillers.get(location)
        if wms is None:
            continue
        requested = True
        book.emit(
            OutboundEvent(
                type="fulfillment.requested",
                key=order_key(reserved.channel, reserved.order_id),
                channels=(wms,),
                data={
                    "order_id": reserved.order_id,
                    "channel": reserved.channel,
                    "location": location,
                    "lines": [
                        {"sku": ln.sku, "quantity": a.reserved}
                        for ln in reserved.lines
                        for a in ln.allocations
                        if a.location == location
                    ],
                    "ship_to": reserved.ship_to,
                },
            )
        )
    if requested:
        reserved = replace(reserved, status=OrderStatus.FULFILLMENT_REQUESTED)
    answer: dict[str, object] = {"status": "reserved", "location": reserved.location}
    if len(reserved.locations) > 1:
        answer["locations"] = list(reserved.locations)
    return reserved, answer


def _whole_plan(
    book: StockBook,
    candidates: Sequence[str],
    lines: Sequence[OrderLine],
    wanted: Mapping[str, int],
) -> tuple[list[tuple[Allocation, ...]] | None, list[Shortage]]:
    best: list[Shortage] | None = None
    for location in candidates:
        short = shortages_at(book, location, wanted)
        if not short:
            return [(Allocation(location=location, reserved=ln.quantity),) for ln in lines], []
        if best is None or len(short) < len(best):
            best = short
    if best is None:
        best = [Shortage(sku=s, requested=q, available=0) for s, q in wanted.items()]
    return None, best


def _split_plan(
    book: StockBook, candidates: Sequence[str], lines: Sequence[OrderLine]
) -> tuple[list[tuple[Allocation, ...]] | None, list[Shortage]]:
    wanted = demand(lines)
    short = []
    for sku, qty in wanted.items():
        total = sum(book.available(sku, loc) for loc in candidates)
        if total < qty:
            short.append(Shortage(sku=sku, requested=qty, available=total))
    if short:
        return None, short
    left = {(sku, loc): book.available(sku, loc) for sku in wanted for loc in candidates}
    plan = []
    for line in lines:
        need = line.quantity
        allocations = []
        for loc in candidates:
            take = min(need, left[(line.sku, loc)])
            if take:
                allocations.append(Allocation(location=loc, reserved=take))
                left[(line.sku, loc)] -= take
                need -= take
            if need == 0:
                break
        plan.append(tuple(allocations))
    return plan, []


def _reject(
    book: StockBook, order: Order, short: Sequence[Shortage], *, reason: str
) -> tuple[Order, dict[str, object]]:
    rejected = replace(
        order, status=OrderStatus.REJECTED, reason=reason, location=None, version=order.version + 1
    )
    event = _order_event("order.rejected", rejected, {})
    event.data["short"] = [s.as_dict() for s in short]
    book.emit(event)
    return rejected, {"status": "rejected", "reason": reason, "short": [s.as_dict() for s in short]}


def _release_all(book: StockBook, order: Order, cause: Cause) -> Order:
    lines = []
    for line in order.lines:
        allocations = []
        for a in line.allocations:
            if a.reserved:
                book.move(MovementKind.RELEASE, line.sku, a.location, reserved=-a.reserved, cause=cause)
            allocations.append(replace(a, reserved=0))
        lines.append(replace(line, allocations=tuple(allocations)))
    return replace(order, lines=tuple(lines))


def cancel_order(
    book: StockBook, order: Order, *, fulfillers: Mapping[str, str], cause: Cause, reason: str | None
) -> tuple[Order, dict[str, object]]:
    """Cancel an open order and release what it still holds; a closed one stays as it is."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        return order, {"status": order.status.value}
    if order.status is OrderStatus.SHIPPED:
        raise Refusal(f"order {order.order_id} has shipped and cannot be cancelled", status=409,
                      pointer="/data/order_id")
    released = _release_all(book, order, cause)
    cancelled = replace(released, status=OrderStatus.CANCELLED, reason=reason, version=order.version + 1)
    book.emit(_order_event("order.cancelled", cancelled, fulfillers))
    return cancelled, {"status": "cancelled"}


def accept_fulfillment(order: Order) -> tuple[Order, dict[str, object]]:
    """The warehouse took the order on."""
    _require_open(order)
    if order.status in (OrderStatus.RESERVED, OrderStatus.FULFILLMENT_REQUESTED):
        order = replace(order, status=OrderStatus.ACCEPTED, version=order.version + 1)
    return order, {"status": order.status.value}


def reject_fulfillment(
    book: StockBook,
    channel: Channel,
    order: Order,
    *,
    fulfillers: Mapping[str, str],
    cause: Cause,
    reason: str | None,
) -> tuple[Order, dict[str, object]]:
    """The warehouse cannot fill the order: route it to the next location, or reject it."""
    _require_open(order)
    if any(line.shipped for line in order.lines):
        raise Refusal(f"order {order.order_id} has already shipped in part", status=409,
                      pointer="/data/order_id")
    released = _release_all(book, order, cause)
    tried = order.tried_locations + tuple(loc for loc in order.locations if loc not in order.tried_locations)
    retry = replace(
        released,
        tried_locations=tried,
        lines=tuple(replace(ln, allocations=()) for ln in released.lines),
    )
    # The event, the answer and the stored order all give the warehouse's reason.
    return _route(book, channel, retry, fulfillers=fulfillers, cause=cause,
                  reject_reason=f"fulfillment rejected: {reason or 'no reason given'}")


def ship(
    book: StockBook,
    order: Order,
    location: str,
    lines: Sequence[Line],
    *,
    fulfillers: Mapping[str, str],
    cause: Cause,
) -> tuple[Order, dict[str, object]]:
    """Goods left `location`: reservations there become on_hand decrements."""
    _require_open(order)
    order_lines = [list(line.allocations) for line in order.lines]
    for i, line in enumerate(lines):
        need = line.quantity
        for j, order_line in enumerate(order.lines):
            if order_line.sku != line.sku:
                continue
            for k, a in enumerate(order_lines[j]):
                if a.location != location or not a.reserved or not need:
                    continue
                take = min(need, a.reserved)
                order_lines[j][k] = replace(a, reserved=a.reserved - take, shipped=a.shipped + take)
                need -= take
        if need:
            raise Refusal(
                f"order {order.order_id} holds {line.quantity - need} of {line.sku} at "
                f"{location} to ship, not {line.quantity}",
                pointer=f"/data/lines/{i}/quantity",
            )
    for line in lines:
        book.move(
            MovementKind.SHIPMENT, line.sku, location, on_hand=-line.quantity,
            reserved=-line.quantity, cause=cause,
        )
    new_lines = tuple(
        replace(ln, allocations=tuple(allocs)) for ln, allocs in zip(order.lines, order_lines, strict=True)
    )
    done = all(ln.shipped >= ln.quantity for ln in new_lines)
    shipped = replace(
        order,
        lines=new_lines,
        status=OrderStatus.SHIPPED if done else OrderStatus.PARTIALLY_SHIPPED,
        version=order.version + 1,
    )
    event = _order_event("order.shipped", shipped, fulfillers)
    event.data["location"] = location
    event.data["shipment"] = [{"sku": ln.sku, "quantity": ln.quantity} for ln in lines]
    event.data["complete"] = done
    book.emit(event)
    return shipped, {"status": shipped.status.value}


def _require_open(order: Order) -> None:
    if order.status not in OPEN_ORDER_STATUSES:
        raise Refusal(
            f"order {order.order_id} is {order.status.value}", status=409, pointer="/data/order_id"
        )


def order_view(order: Order) -> dict[str, object]:
    """The order as the API and events show it."""
    return {
        "channel": order.channel,
        "order_id": order.order_id,
        "status": order.status.value,
        "location": order.location,
        "lines": [
            {
                "sku": ln.sku,
                "quantity": ln.quantity,
                "reserved": ln.reserved,
                "shipped": ln.shipped,
                "allocations": [
                    {"location": a.location, "reserved": a.reserved, "shipped": a.shipped}
                    for a in ln.allocations
                ],
            }
            for ln in order.lines
        ],
        "reason": order.reason,
        "version": order.version,
    }


def _order_event(type_: str, order: Order, fulfillers: Mapping[str, str]) -> OutboundEvent:
    wms = tuple(dict.fromkeys(fulfillers[loc] for loc in order.locations if loc in fulfillers))
    data = order_view(order)
    data["order_id"] = order.order_id
    return OutboundEvent(
        type=type_,
        key=order_key(order.channel, order.order_id),
        channels=(order.channel, *(w for w in wms if w != order.channel)),
        data=data,
    )
