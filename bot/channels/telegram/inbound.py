"""Telegram updates on their way in: polled tolerantly, ordered per chat, and converted to `Inbound`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Any

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType, FileSizeLimit
from telegram.ext import BaseUpdateProcessor
from telegram.request import HTTPXRequest

from bot.chat.message import Document, Inbound, parse_command
from bot.errors import AdapterError

logger = logging.getLogger(__name__)

PLATFORM = "telegram"
URGENT_COMMANDS = frozenset({"stop"})
"""Commands that act on what the chat is already doing, so they must not wait behind it."""


class ChatOrderProcessor(BaseUpdateProcessor):
    """Process updates of different chats concurrently and those of one chat in arrival order.

    `/stop` jumps the queue: it has to reach a debate that is still running in the same chat.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: defaultdict[int, int] = defaultdict(int)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's handlers once the chat's earlier updates are done."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None or jumps_queue(update):
            await coroutine
            return
        self._users[chat.id] += 1
        try:
            async with self._locks[chat.id]:
                await coroutine
        finally:
            self._users[chat.id] -= 1
            if not self._users[chat.id]:
                del self._users[chat.id], self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def jumps_queue(update: object) -> bool:
    """Whether an update is handled at once rather than after the chat's earlier updates."""
    message = update.message if isinstance(update, Update) else None
    text = message.text if message is not None else None
    return bool(text) and parse_command(text or "")[0] in URGENT_COMMANDS


class TolerantUpdatesRequest(HTTPXRequest):
    """The `getUpdates` connection; an update PTB cannot parse is reduced to its bare id.

    PTB parses a `getUpdates` batch as a whole: one update it cannot read (a newer Bot API field,
    a truncated object) fails the batch before the offset moves, so every later poll fetches and
    fails on it again and the bot goes silent. A bare `{"update_id": n}` matches no handler and
    lets polling move past it.
    """

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Fetch updates and defuse those that cannot be parsed."""
        code, payload = await super().do_request(url, method, *args, **kwargs)
        return code, defuse_updates(payload) if code == HTTPStatus.OK else payload


def defuse_updates(payload: bytes) -> bytes:
    """Return a `getUpdates` response with every unparseable update reduced to its id."""
    try:
        body = json.loads(payload)
    except ValueError:
        return payload
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        return payload
    kept: list[object] = []
    for item in result:
        try:
            Update.de_json(item, None)
        except Exception as error:  # whatever PTB raises on data it does not understand
            update_id = item.get("update_id") if isinstance(item, dict) else None
            logger.warning("skipping update %s that cannot be parsed: %r", update_id, error)
            if not isinstance(update_id, int):
                continue
            item = {"update_id": update_id}
        kept.append(item)
    if kept == result:
        return payload
    return json.dumps({**body, "result": kept}).encode()


# -- updates → inbound -------------------------------------------------------


def qualified(platform_id: int) -> str:
    """Return a platform-qualified id such as `telegram:12345`."""
    return f"{PLATFORM}:{platform_id}"


def is_group(message: Message) -> bool:
    """Whether the message was sent in a group or supergroup."""
    return message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def meant_for_another_bot(message: Message, bot_username: str) -> bool:
    """Whether a captioned command names another bot (`/addsource@other_bot`).

    CommandHandler checks this for text commands; a document's caption needs it done by hand.
    """
    head = (message.caption or message.text or "").split(maxsplit=1)[:1]
    _, at, name = head[0].partition("@") if head else ("", "", "")
    return bool(at) and name.casefold() != bot_username.casefold()


def addressed_text(message: Message, *, bot_id: int, bot_username: str) -> tuple[bool, str]:
    """Return whether a group message is meant for the bot, and its text without the bot's mention."""
    text = message.text or ""
    replied = message.reply_to_message
    addressed = bool(replied and replied.from_user and replied.from_user.id == bot_id)
    handle = f"@{bot_username}".casefold()
    mentions = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    for entity, value in mentions.items():
        if (entity.type == MessageEntity.MENTION and value.casefold() == handle) or (
            entity.user is not None and entity.user.id == bot_id
        ):
            addressed = True
            text = text.replace(value, "", 1)
    return addressed, text.strip()


def to_inbound(
    update: Update,
    *,
    bot_id: int,
    bot_username: str,
    admin_ids: frozenset[int],
    document: Document | None = None,
) -> Inbound | None:
    """Convert an update to a neutral `Inbound`; None for updates the bot ignores.

    Ignored: updates without a message or a human sender, edited messages and channel posts
    (PTB's `effective_message` would return those too).
    """
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    query = update.callback_query
    if query is not None:
        if query.message is None or query.data is None:
            return None
        chat = query.message.chat
        return Inbound(
            user_id=qualified(user.id),
            chat_id=qualified(chat.id),
            is_group=chat.type in (ChatType.GROUP, ChatType.SUPERGROUP),
            is_admin=user.id in admin_ids,
            callback=query.data,
        )
    message = update.message
    if message is None:
        return None
    text = message.text if message.text is not None else (message.caption or "")
    command, args = parse_command(text)
    if command is None:
        args = ""
    addressed = True
    if command is None and is_group(message):
        addressed, text = addressed_text(message, bot_id=bot_id, bot_username=bot_username)
    return Inbound(
        user_id=qualified(user.id),
        chat_id=qualified(message.chat.id),
        text=text.strip(),
        command=command,
        args=args,
        is_group=is_group(message),
        addressed=addressed,
        is_admin=user.id in admin_ids,
        document=document,
    )


async def download_document(message: Message, *, max_bytes: int) -> Document:
    """Fetch the message's document through the Bot API, refusing files over `max_bytes`."""
    document = message.document
    if document is None:
        raise AdapterError("no document attached", user_message="请把文件作为附件发送，说明写 /addsource。")
    limit = min(max_bytes, FileSizeLimit.FILESIZE_DOWNLOAD)
    name = document.file_name or f"{document.file_unique_id}.txt"
    if document.file_size is not None and document.file_size > limit:
        raise AdapterError(
            f"document {name} has {document.file_size} bytes, over {limit}",
            user_message=f"文件“{name}”太大（{document.file_size} 字节），上限是 {limit} 字节。",
        )
    data = bytes(await (await document.get_file()).download_as_bytearray())
    if len(data) > limit:
        raise AdapterError(
            f"document {name} has {len(data)} bytes, over {limit}",
            user_message=f"文件“{name}”太大（{len(data)} 字节），上限是 {limit} 字节。",
        )
    return Document(filename=name, data=data)
