"""A local stand-in for the Telegram Bot API, for driving the real python-telegram-bot HTTP stack.

It serves on 127.0.0.1 (a free port), answers the methods PTB calls, records every request, and
hands out queued updates through `getUpdates` (long poll with a short timeout):

    async with BotApiStandIn() as api:
        settings = Settings(telegram_base_url=api.base_url, telegram_base_file_url=api.base_file_url, ...)
        api.enqueue_text("你好", chat_id=1, user_id=1)
        await api.wait_for("sendMessage", 1)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token"
BOT_ID = 123456
BOT_USERNAME = "panel_test_bot"
MAX_POLL = 0.5
"""Longest a getUpdates call is held open, whatever timeout the client asks for."""
RAW_FIELDS = frozenset(
    {"text", "caption", "callback_query_id", "file_id", "action", "parse_mode", "url", "secret_token"}
)
"""Parameters PTB sends as plain strings; every other form value is JSON-encoded."""


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class BotApiStandIn:
    """An in-process Bot API server on 127.0.0.1 that records requests and serves queued updates."""

    def __init__(self, *, token: str = TOKEN, username: str = BOT_USERNAME, bot_id: int = BOT_ID) -> None:
        self.token, self.username, self.bot_id = token, username, bot_id
        self.calls: list[Call] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        """file_id → (file_path, content)."""
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._chats: dict[int, dict[str, Any]] = {}
        self._queued = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self.port = 0

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving."""
        self._queued.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The value for python-telegram-bot's `base_url`."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """The value for python-telegram-bot's `base_file_url`."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what tests read ---------------------------------------------------------

    def requests(self, method: str) -> list[Call]:
        """Return the recorded calls of one method, oldest first."""
        return [call for call in self.calls if call.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Return the params of every sendMessage call (to one chat, if given)."""
        return [
            call.params
            for call in self.requests("sendMessage")
            if chat_id is None or int(call.params["chat_id"]) == chat_id
        ]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        """Return the texts sent with sendMessage (to one chat, if given)."""
        return [str(params["text"]) for params in self.sent(chat_id)]

    async def wait_for(self, method: str, count: int, *, timeout: float = 10.0) -> list[Call]:
        """Wait until at least `count` calls of `method` arrived; fail after `timeout` seconds."""

        def arrived() -> bool:
            return len(self.requests(method)) >= count

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(arrived), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"{len(self.requests(method))} of {count} {method} calls after {timeout}s: "
                    f"{[c.method for c in self.calls][-20:]}"
                ) from None
        return self.requests(method)

    def fail_next(
        self, method: str, *, code: int = 400, description: str = "Bad Request: test failure"
    ) -> None:
        """Make the next call of `method` fail the way the Bot API reports errors."""
        self._failures.setdefault(method, []).append((code, description))

    # -- what tests queue ----------------------------------------------------------

    def enqueue(self, update: dict[str, Any]) -> int:
        """Queue a raw update (an `update_id` is added when missing); return its id."""
        update.setdefault("update_id", next(self._update_ids))
        self._updates.append(update)
        self._queued.set()
        return int(update["update_id"])

    def enqueue_text(
        self,
        text: str,
        *,
        chat_id: int,
        user_id: int,
        group: bool = False,
        reply_to_bot: bool = False,
        first_name: str = "测试",
    ) -> int:
        """Queue a text message; commands and `@username` mentions get their entities."""
        message = self.message(chat_id=chat_id, user_id=user_id, group=group, first_name=first_name)
        message["text"] = text
        entities = list(self._entities(text))
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": message["chat"],
                "from": self.bot_user(),
                "text": "上一条回答",
            }
        return self.enqueue({"message": message})

    def enqueue_callback(self, data: str, *, chat_id: int, user_id: int, group: bool = False) -> int:
        """Queue a pressed inline button with its callback data."""
        message = self.message(chat_id=chat_id, user_id=self.bot_id, group=group)
        message["from"] = self.bot_user()
        message["text"] = "按钮所在的消息"
        query = {
            "id": str(next(self._message_ids)),
            "from": self.user(user_id),
            "chat_instance": str(chat_id),
            "message": message,
            "data": data,
        }
        return self.enqueue({"callback_query": query})

    def enqueue_document(
        self,
        filename: str,
        data: bytes,
        *,
        chat_id: int,
        user_id: int,
        caption: str = "/addsource",
        group: bool = False,
        declared_size: int | None = None,
    ) -> int:
        """Queue a document message; its content is served through getFile and the file URL."""
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = (f"documents/{file_id}/{filename}", data)
        message = self.message(chat_id=chat_id, user_id=user_id, group=group)
        message["document"] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": filename,
            "mime_type": "text/plain",
            "file_size": len(data) if declared_size is None else declared_size,
        }
        if caption:
            message["caption"] = caption
            entities = list(self._entities(caption))
            if entities:
                message["caption_entities"] = entities
        return self.enqueue({"message": message})

    # -- update parts ----------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        """The bot as a Telegram `User`."""
        return {"id": self.bot_id, "is_bot": True, "first_name": "Panel", "username": self.username}

    def user(self, user_id: int, *, first_name: str = "测试") -> dict[str, Any]:
        """A human Telegram `User`."""
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "zh-hans"}

    def chat(self, chat_id: int, *, group: bool) -> dict[str, Any]:
        """A private chat or a supergroup; remembered so sent messages name the same chat."""
        chat: dict[str, Any] = (
            {"id": chat_id, "type": "supergroup", "title": "测试群"}
            if group
            else {"id": chat_id, "type": "private", "first_name": "测试"}
        )
        self._chats[chat_id] = chat
        return chat

    def message(
        self, *, chat_id: int, user_id: int, group: bool = False, first_name: str = "测试"
    ) -> dict[str, Any]:
        """A bare `Message` from a user in a chat."""
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id, group=group),
            "from": self.user(user_id, first_name=first_name),
        }

    def _entities(self, text: str) -> Iterable[dict[str, Any]]:
        """The bot_command entity of a leading command and mention entities of `@username`s."""
        if text.startswith("/"):
            head = text.split(maxsplit=1)[0]
            yield {"type": "bot_command", "offset": 0, "length": utf16_len(head)}
        start = 0
        while (at := text.find("@", start)) >= 0:
            end = at + 1
            while end < len(text) and (text[end].isascii() and (text[end].isalnum() or text[end] == "_")):
                end += 1
            if end - at > 1 and not (text.startswith("/") and at < len(text.split(maxsplit=1)[0])):
                yield {"type": "mention", "offset": utf16_len(text[:at]), "length": end - at}
            start = end

    # -- the HTTP side ------------------------------------------------------------------

    async def _record(self, method: str, params: dict[str, Any]) -> None:
        self.calls.append(Call(method, params))
        async with self._changed:
            self._changed.notify_all()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            return dict(body or {})
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if not isinstance(value, str):
                params[key] = value.file.read()
            elif key in RAW_FIELDS:
                params[key] = value
            else:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        try:
            params = await self._params(request)
        except ConnectionError:  # the client gave up on the request (a cancelled chat action)
            return web.Response(status=499)
        if method == "getUpdates":
            result: Any = await self._get_updates(params)
            await self._record(method, params)
            return web.json_response({"ok": True, "result": result})
        await self._record(method, params)
        if self._failures.get(method):
            code, description = self._failures[method].pop(0)
            return web.json_response(
                {"ok": False, "error_code": code, "description": description}, status=code
            )
        handler = getattr(self, f"_do_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
            )
        return web.json_response({"ok": True, "result": handler(params)})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        await self._record("downloadFile", {"path": path})
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._queued.clear()
            timeout = min(float(params.get("timeout") or 0), MAX_POLL)
            if timeout > 0:
                try:
                    await asyncio.wait_for(self._queued.wait(), timeout)
                except TimeoutError:
                    pass
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    def _sent_message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "测试"}),
            "from": self.bot_user(),
            **extra,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    def _do_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _do_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sent_message(params, text=params["text"])

    def _do_editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        return self._sent_message(params, text=params["text"])

    def _do_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params["file_id"])
        path, data = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    def _do_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _true(self, params: dict[str, Any]) -> bool:
        return True

    _do_answerCallbackQuery = _true
    _do_sendChatAction = _true
    _do_setMyCommands = _true
    _do_deleteMyCommands = _true
    _do_deleteWebhook = _true
    _do_setWebhook = _true
    _do_close = _true
    _do_logOut = _true
