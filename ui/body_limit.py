"""Request bodies bounded before they are read: a body over its route's limit is refused with 413 from its
Content-Length header, or as soon as the bytes streamed in pass the limit (a body sent without one)."""

from __future__ import annotations

import json
import logging

from starlette.exceptions import HTTPException

log = logging.getLogger("handwriting")


class BodyLimit:
    """ASGI middleware. `limits` maps a path prefix to its limit in bytes; "" is the default."""

    def __init__(self, app, limits: dict[str, int]):
        self.app = app
        self.limits = sorted(limits.items(), key=lambda kv: -len(kv[0]))  # longest prefix first

    def limit_for(self, path: str) -> int:
        return next(limit for prefix, limit in self.limits if path.startswith(prefix))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._refuse(send, limit, f"Content-Length {declared[:20].decode(errors='replace')}")
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    log.info("refused a request: a body over %s bytes on %s", f"{limit:,}", scope.get("path"))
                    raise HTTPException(413, _message(limit))
            return message

        await self.app(scope, counted, send)

    @staticmethod
    async def _refuse(send, limit: int, detail: str) -> None:
        log.info("refused a request: %s over the %s-byte limit", detail, f"{limit:,}")
        body = json.dumps({"detail": _message(limit), "error": _message(limit)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _message(limit: int) -> str:
    return f"The request is too large: at most {limit / 2**20:.0f} MB are accepted."
