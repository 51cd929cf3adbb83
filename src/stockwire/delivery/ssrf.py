"""The target guard: webhooks go to public http(s) addresses only.

Checked when an endpoint is created or changed, and again on every new
connection: `connect_guarded` resolves the host itself, refuses if any address
is not public, and connects to the address it checked, so a DNS answer that
changes between the two (rebinding) cannot reach an internal service.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetUnreachable(OSError):
    """The host does not resolve, or no address of it accepts a connection."""


class TargetBlocked(TargetUnreachable):
    """The host resolves to an address webhooks may not reach."""


def is_public(address: IPAddress) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _addresses(infos: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def blocked_reason(addresses: Iterable[str]) -> str | None:
    """Why a host with these addresses may not be called, or None."""
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not is_public(address):
            return f"resolves to a non-public address ({address})"
    return None


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why an endpoint URL is refused, or None: http(s) only, to a host with public addresses only."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "only http and https URLs can receive webhooks"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed; put them in the receiver's own check"
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        return f"the host {parts.hostname!r} does not resolve"
    reason = blocked_reason(_addresses(infos))
    return f"the host {parts.hostname!r} {reason}" if reason else None


async def connect_guarded(
    host: str, port: int, *, guard: bool, ssl_context: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a TCP (or TLS) connection to `host`, resolving it here and, with `guard`, only to public addresses.

    The connection goes to an address this function checked, so a DNS answer
    that changes after the check (rebinding) cannot redirect it.
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetUnreachable(f"cannot resolve {host}: {exc}") from exc
    addresses = _addresses(infos)
    if guard:
        reason = blocked_reason(addresses)
        if reason is not None:
            raise TargetBlocked(f"{host} {reason}")
    last: OSError | None = None
    for address in addresses:
        try:
            return await asyncio.open_connection(
                address, port, ssl=ssl_context, server_hostname=host if ssl_context else None
            )
        except OSError as exc:
            last = exc
    raise last or TargetUnreachable(f"cannot connect to {host}")
