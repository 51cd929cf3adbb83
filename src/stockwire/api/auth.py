"""Bearer-token guard for the admin API; inbound webhooks and health stay open."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from stockwire.api.problems import problem

OPEN_PREFIXES = ("/v1/inbound/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")


def new_token() -> str:
    return "swt_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BearerAuth:
    """Refuse any `/v1` request without `Authorization: Bearer <token>` (401)."""

    def __init__(self, app: ASGIApp, *, token_sha256: str) -> None:
        if len(token_sha256) != 64:
            raise ValueError("BearerAuth needs the sha256 hex digest of the admin token")
        self.app = app
        self._digest = token_sha256.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(OPEN_PREFIXES) or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.decode("latin-1").partition(" ")
        given = token_digest(token.strip()).encode() if scheme.lower() == "bearer" else b""
        if given and hmac.compare_digest(given, self._digest):
            await self.app(scope, receive, send)
            return
        response = problem(
            401, "unauthorized",
            "send the admin token as 'Authorization: Bearer <token>' (STOCKWIRE_ADMIN_TOKEN)",
            headers={"WWW-Authenticate": 'Bearer realm="stockwire"'},
        )
        await response(scope, receive, send)
