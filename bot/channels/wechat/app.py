"""WeChat Official Account channel: the callback server that turns WeChat XML into `Inbound` and back.

`build_app(service, settings, store=…)` wires the aiohttp routes on `WECHAT_PATH`: GET answers
WeChat's URL verification (echoes `echostr` when the signature is right), POST receives messages.
Every request is signature-checked before anything else (403); a body over 1 MB gets 413 unread,
one that is not a WeChat message 400. `run_wechat(service, settings, stop)` serves it, with the
daily quotes of `jobs` when the customer-service API is on. Messages are read in `inbound`, answered
within WeChat's time limit or later by `dispatch`, rendered in `render`; `api` calls WeChat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from bot.channels.server import MAX_BODY_BYTES, new_app, read_body, start_site
from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.dispatch import Dispatcher, PendingStore, Pusher
from bot.channels.wechat.inbound import (
    Envelope,
    MalformedMessageError,
    SignatureError,
    message_crypto,
    read_message,
    signature_valid,
)
from bot.channels.wechat.jobs import send_daily_quotes
from bot.channels.wechat.render import MESSAGE_BYTES, reply_xml
from bot.chat.message import ChatService
from bot.chat.service import PanelService
from bot.errors import ConfigError
from bot.settings import Settings

logger = logging.getLogger(__name__)

SUCCESS = "success"
"""What WeChat takes for "received, nothing to reply" (it then shows the user nothing)."""
DISPATCHER_KEY: web.AppKey[Dispatcher] = web.AppKey("dispatcher", Dispatcher)


def wechat_token(settings: Settings) -> str:
    """Return the callback token, refusing to serve WeChat without one.

    Raises:
        ConfigError: `WECHAT_TOKEN` is empty.
    """
    token = settings.wechat_token.get_secret_value()
    if not token:
        raise ConfigError(
            "WECHAT_TOKEN is not set: put the Token of the Official Account's server settings "
            "(基本配置 → 服务器配置) in the environment or .env",
            user_message="WECHAT_TOKEN 未设置。",
        )
    return token


def check_settings(settings: Settings) -> None:
    """Refuse settings the channel cannot serve with, before anything starts.

    Raises:
        ConfigError: the token is missing, the EncodingAESKey is malformed, or the customer-service
            API is on without the AppID and AppSecret it needs.
    """
    wechat_token(settings)
    message_crypto(settings)
    if settings.wechat_customer_service and not (
        settings.wechat_app_id and settings.wechat_app_secret.get_secret_value()
    ):
        raise ConfigError(
            "WECHAT_CUSTOMER_SERVICE needs WECHAT_APP_ID and WECHAT_APP_SECRET for its access tokens",
            user_message="WECHAT_APP_ID / WECHAT_APP_SECRET 未设置。",
        )


class WeChatCallback:
    """The request handlers of the callback route."""

    def __init__(self, dispatcher: Dispatcher, *, token: str, crypto: WeChatCrypto | None) -> None:
        self._dispatcher = dispatcher
        self._token = token
        self._crypto = crypto

    async def verify(self, request: web.Request) -> web.Response:
        """Answer WeChat's URL verification: echo `echostr` when the signature is right."""
        envelope = Envelope.from_query(request.query)
        if not signature_valid(self._token, envelope):
            logger.warning("URL verification from %s with a wrong signature", request.remote)
            return web.Response(status=403)
        return web.Response(text=request.query.get("echostr", ""), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """Check, read and answer one message."""
        envelope = Envelope.from_query(request.query)
        if not signature_valid(self._token, envelope):
            logger.warning("callback from %s with a wrong signature", request.remote)
            return web.Response(status=403)
        body = await read_body(request, limit=MAX_BODY_BYTES)
        try:
            message = read_message(body, envelope, crypto=self._crypto)
        except SignatureError as error:
            logger.warning("callback from %s refused: %s", request.remote, error)
            return web.Response(status=403)
        except MalformedMessageError as error:
            logger.warning("malformed callback (%d bytes): %s", len(body), error)
            return web.Response(status=400)
        text = await self._dispatcher.respond(message)
        if not text:
            return web.Response(text=SUCCESS, content_type="text/plain")
        encrypt = self._crypto if envelope.encrypted else None
        xml = reply_xml(message, text, crypto=encrypt, nonce=envelope.nonce)
        return web.Response(text=xml, content_type="application/xml")


def build_app(
    service: ChatService,
    settings: Settings,
    *,
    store: PendingStore,
    pusher: Pusher | None = None,
    message_bytes: int = MESSAGE_BYTES,
) -> web.Application:
    """Build the callback application: GET and POST on `WECHAT_PATH`.

    `pusher` pushes late answers (customer-service mode); without one they wait for the user's
    next message. Messages are at most `message_bytes` long (WeChat's limit unless told otherwise).

    Raises:
        ConfigError: the settings cannot serve WeChat (see `check_settings`).
    """
    check_settings(settings)
    dispatcher = Dispatcher(
        service,
        store,
        admin_ids=settings.wechat_admin_ids,
        reply_seconds=settings.wechat_reply_seconds,
        pusher=pusher,
        message_bytes=message_bytes,
    )
    callback = WeChatCallback(dispatcher, token=wechat_token(settings), crypto=message_crypto(settings))
    app = new_app()
    app[DISPATCHER_KEY] = dispatcher
    path = "/" + settings.wechat_path.strip("/")
    app.router.add_get(path, callback.verify)
    app.router.add_post(path, callback.receive)
    return app


def customer_service_api(settings: Settings) -> WeChatApi | None:
    """Return the API client late answers are pushed with, or None when `WECHAT_CUSTOMER_SERVICE` is off."""
    if not settings.wechat_customer_service:
        return None
    return WeChatApi(
        base_url=settings.wechat_api_base_url,
        app_id=settings.wechat_app_id,
        app_secret=settings.wechat_app_secret.get_secret_value(),
    )


async def run_wechat(service: PanelService, settings: Settings, stop: asyncio.Event) -> None:
    """Serve the WeChat callback until `stop` is set.

    Raises:
        ConfigError: the settings cannot serve WeChat (checked before anything starts).
    """
    check_settings(settings)
    api = customer_service_api(settings)
    app = build_app(service, settings, store=service.store, pusher=api)
    runner = await start_site(app, host=settings.wechat_host, port=settings.wechat_port)
    logger.info("serving the WeChat callback on %s", "/" + settings.wechat_path.strip("/"))
    quotes = asyncio.create_task(send_daily_quotes(service, app[DISPATCHER_KEY], stop)) if api else None
    try:
        await stop.wait()
    finally:
        if quotes is not None:
            quotes.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await quotes
        await runner.cleanup()
        await app[DISPATCHER_KEY].drain()
        if api is not None:
            await api.close()
