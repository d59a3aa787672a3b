"""The HTTP server that webhook channels share (aiohttp): bounded bodies, one site per address.

A Telegram webhook and the WeChat callback are routes on aiohttp applications; `read_body` refuses a
body over `MAX_BODY_BYTES` from its `Content-Length` before reading any of it, and stops reading a
chunked body as soon as it passes the limit.
"""

from __future__ import annotations

import logging

from aiohttp import web

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
"""Larger request bodies get 413 (a Telegram update or a WeChat message is a few KB)."""


class BodyTooLarge(web.HTTPRequestEntityTooLarge):
    """413 for a body over the limit."""

    def __init__(self, limit: int, size: int) -> None:
        super().__init__(max_size=limit, actual_size=size)


async def read_body(request: web.Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read a request body of at most `limit` bytes.

    Raises:
        BodyTooLarge: the declared or the received length is over `limit`.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit, declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


def new_app() -> web.Application:
    """Return an aiohttp application whose own body limit matches `MAX_BODY_BYTES`."""
    return web.Application(client_max_size=MAX_BODY_BYTES)


async def start_site(app: web.Application, *, host: str, port: int) -> web.AppRunner:
    """Start serving `app` on `host:port`; the caller cleans the returned runner up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    logger.info("listening on %s:%s", host, port)
    return runner
