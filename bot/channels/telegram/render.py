"""Render neutral replies as Telegram HTML (escaped, titled, cited, split under the limit) and send them."""

from __future__ import annotations

import re
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters
from telegram.constants import MessageLimit, ParseMode
from telegram.ext import ExtBot

from bot.chat.message import Button, Reply
from bot.chat.render import split_text

MESSAGE_LIMIT = MessageLimit.MAX_TEXT_LENGTH
"""Telegram refuses longer messages. It counts UTF-16 code units of the text after parsing the
markup; we count the HTML itself, which is never shorter."""
BUTTONS_PER_ROW = 2
WIDE_LABEL = 14
"""Buttons with longer labels get a row of their own."""
KIND_PREFIX = {"error": "⚠️ "}
SOURCES_HEADING = "来源"
SOURCE_LINE = re.compile(r"^((?:\[\d+\])*)\s*(.*)$", re.DOTALL)
"""`[1] 标题 · 媒体 · 日期`: the citation markers, then the source's description."""


def utf16_len(text: str) -> int:
    """Return the length Telegram measures: UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def render_reply(reply: Reply, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Render a reply as HTML messages, each at most `limit` UTF-16 code units, split between paragraphs.

    Every string that comes from a user or a source is escaped, so `<b>` or `&` in a question or a
    quote shows as typed and cannot break the markup.
    """
    blocks: list[str] = []
    if reply.title:
        blocks.append(f"<b>{escape(reply.title, quote=False)}</b>")
    body = KIND_PREFIX.get(reply.kind, "") + reply.text.strip()
    blocks.extend(escaped_pieces(body, limit=limit))
    lines = source_lines(reply)
    if lines:
        blocks.extend(sources_blocks(lines, limit=limit))
    return pack(blocks, limit=limit)


def source_lines(reply: Reply) -> list[str]:
    """Return a reply's source lines, one per source: `[1][2] 标题 · 媒体 · 日期`.

    Lines come from `reply.sources`, or from the citations when a reply has none.
    """
    lines = reply.sources or tuple(f"[{c.n}] {c.source}" for c in reply.citations)
    grouped: dict[str, str] = {}
    for line in lines:
        match = SOURCE_LINE.match(line.strip())
        markers, description = match.groups() if match else ("", line.strip())
        if description or markers:
            grouped[description] = grouped.get(description, "") + markers
    return [f"{markers} {description}".strip() for description, markers in grouped.items()]


def sources_blocks(lines: list[str], *, limit: int) -> list[str]:
    """Render source lines as collapsible quote blocks, as many as the limit requires."""
    opening, closing = f"<b>{SOURCES_HEADING}</b>\n<blockquote expandable>", "</blockquote>"
    room = limit - utf16_len(opening) - utf16_len(closing)
    escaped = [piece for line in lines for piece in escaped_pieces(line, limit=room)]
    blocks: list[str] = []
    current: list[str] = []
    for line in escaped:
        if current and utf16_len("\n".join([*current, line])) > room:
            blocks.append(opening + "\n".join(current) + closing)
            current = []
        current.append(line)
    if current:
        blocks.append(opening + "\n".join(current) + closing)
    return blocks


def escaped_pieces(text: str, *, limit: int) -> list[str]:
    """Split plain text between paragraphs and escape it; every escaped piece fits the limit."""
    pieces: list[str] = []
    for chunk in split_text(text, limit, measure=utf16_len):
        html = escape(chunk, quote=False)
        if utf16_len(html) <= limit:
            pieces.append(html)
        elif len(chunk) > 1:
            # Escaping lengthened this chunk past the limit (many `&` or `<`): split it finer.
            pieces.extend(escaped_pieces(chunk, limit=max(1, len(chunk) // 2)))
        else:
            pieces.append(html)
    return [piece for piece in pieces if piece.strip()]


def pack(blocks: list[str], *, limit: int) -> list[str]:
    """Join self-contained HTML blocks with blank lines into as few messages as the limit allows."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        if current and utf16_len(candidate) > limit:
            messages.append(current)
            candidate = block
        current = candidate
    if current:
        messages.append(current)
    return messages or ["…"]


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Lay buttons out as an inline keyboard: two short labels a row, long labels alone."""
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        key = InlineKeyboardButton(button.label, callback_data=button.payload)
        last = rows[-1] if rows else None
        if (
            last is not None
            and len(last) < BUTTONS_PER_ROW
            and len(button.label) <= WIDE_LABEL
            and all(len(str(k.text)) <= WIDE_LABEL for k in last)
        ):
            last.append(key)
        else:
            rows.append([key])
    return InlineKeyboardMarkup(rows)


async def send_reply(bot: ExtBot[int], chat_id: int, reply: Reply, *, reply_to: int | None = None) -> None:
    """Send one reply as HTML messages; the first quotes `reply_to`, the last carries the buttons."""
    chunks = render_reply(reply)
    for number, chunk in enumerate(chunks):
        await bot.send_message(
            chat_id,
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(reply.buttons) if number == len(chunks) - 1 else None,
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to is not None and number == 0
                else None
            ),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
