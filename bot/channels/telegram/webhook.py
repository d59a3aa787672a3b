"""Telegram webhook mode: an aiohttp route that checks, bounds and deduplicates updates.

Every request must carry the secret in `X-Telegram-Bot-Api-Secret-Token` (403 otherwise, before the
body is read); a body over `MAX_BODY_BYTES` gets 413 unread. An update that does not parse is logged
and answered 200, since Telegram would otherwise redeliver it forever; an `update_id` already seen
(by this process or by a replica sharing the database) is answered 200 and not handled again.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from aiohttp import web
from telegram import Update

from bot.channels.server import MAX_BODY_BYTES, read_body
from bot.channels.telegram.context import PanelApplication
from bot.errors import ConfigError
from bot.settings import Settings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def webhook_secret(settings: Settings) -> str:
    """Return the webhook secret, refusing to run webhook mode without a usable one.

    Raises:
        ConfigError: `TELEGRAM_WEBHOOK_SECRET` is empty or not what Telegram accepts.
    """
    secret = settings.telegram_webhook_secret.get_secret_value()
    if not secret:
        raise ConfigError(
            "webhook mode needs TELEGRAM_WEBHOOK_SECRET: without it anyone who finds the URL can post "
            "forged updates (set 1-256 characters of A-Z, a-z, 0-9, _ and -)",
            user_message="TELEGRAM_WEBHOOK_SECRET 未设置，webhook 模式不能启动。",
        )
    if len(secret) > 256 or not set(secret) <= _SECRET_CHARS:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
            user_message="TELEGRAM_WEBHOOK_SECRET 格式不对。",
        )
    return secret


class TelegramWebhook:
    """The request handler of the webhook route."""

    def __init__(
        self, application: PanelApplication, *, secret: str, first_delivery: Callable[[str], bool]
    ) -> None:
        self._application = application
        self._secret = secret.encode()
        self._first_delivery = first_delivery

    async def handle(self, request: web.Request) -> web.Response:
        """Check, read and queue one update."""
        offered = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(offered, self._secret):
            logger.warning("webhook request from %s without the right secret", request.remote)
            return web.Response(status=403)
        body = await read_body(request, limit=MAX_BODY_BYTES)
        try:
            update = Update.de_json(json.loads(body), self._application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            logger.warning("unparseable webhook update (%d bytes) ignored: %s", len(body), error)
            return web.Response(status=200)
        if not self._first_delivery(f"telegram:update:{update.update_id}"):
            logger.info("update %s delivered again; handled once already", update.update_id)
            return web.Response(status=200)
        await self._application.update_queue.put(update)
        return web.Response(status=200)


def webhook_route(settings: Settings) -> str:
    """Return the path the webhook listens on: that of `TELEGRAM_WEBHOOK_URL`."""
    from urllib.parse import urlparse

    return "/" + urlparse(settings.telegram_webhook_url).path.strip("/")
