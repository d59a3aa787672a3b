"""The platform-neutral message model: what channels hand the service and what it hands back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.compose.answer import Citation

ReplyKind = Literal["answer", "refusal", "info", "error", "debate", "admin", "map"]
MAX_INBOUND_CHARS = 2000
"""Longer messages are answered with a clear error instead of being processed."""
MAX_PAYLOAD_BYTES = 64
"""A button's payload fits Telegram's callback_data limit."""
_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_]*)(?:@[A-Za-z0-9_]+)?(?![A-Za-z0-9_@])\s*(.*)\Z", re.DOTALL)


@dataclass(frozen=True)
class Document:
    """A file a user sent (admin `/addsource`)."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class Inbound:
    """One message from a user, whatever the platform."""

    user_id: str
    """Platform-qualified, e.g. `telegram:12345`, `wechat:oABC`, `terminal:local`."""
    chat_id: str
    """Platform-qualified chat (a private chat may equal the user)."""
    text: str = ""
    command: str | None = None
    """The command without slash (`ask` for `/ask 方汉 开源`), None for plain text."""
    args: str = ""
    """The text after the command."""
    is_group: bool = False
    addressed: bool = True
    """In a group: the message is a command, mentions the bot or replies to it."""
    is_admin: bool = False
    document: Document | None = None
    callback: str | None = None
    """The payload of a pressed button."""


@dataclass(frozen=True)
class Button:
    """An inline button; `payload` is at most 64 bytes (Telegram's callback_data limit)."""

    label: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One message back to the user; each channel renders it in its own markup."""

    text: str
    """Plain text; answers carry `[n]` citation markers."""
    kind: ReplyKind = "info"
    title: str = ""
    """A heading such as `李涛 · APUS创始人兼CEO`."""
    citations: tuple[Citation, ...] = ()
    sources: tuple[str, ...] = ()
    """Compact source lines: `[1] 标题 · 媒体 · 2023`."""
    buttons: tuple[Button, ...] = field(default_factory=tuple)


class ChatService(Protocol):
    """The chat core channels talk to."""

    def handle(self, inbound: Inbound) -> AsyncIterator[Reply]:
        """Yield the replies to one inbound message, in order (a debate yields one per turn)."""
        ...

    def first_delivery(self, key: str) -> bool:
        """Return True the first time a platform update key (`telegram:update:42`) is seen, else False."""
        ...


def parse_command(text: str) -> tuple[str | None, str]:
    """Split `/ask@bot 方汉 开源` into (`ask`, `方汉 开源`); plain text gives (None, text)."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None, text.strip()
    return match.group(1).lower(), match.group(2).strip()
