"""Render neutral replies as WeChat plain text: footnoted citations, at most 2048 bytes a message.

WeChat shows text as typed (no markup), and refuses a text message over 2048 bytes of UTF-8, both
in a passive reply and through the customer-service API. Replies are rendered with the chat core's
plain rendering, their sources as footnotes under `来源：`, split between paragraphs and packed into
as few messages as fit; each part leaves room for the `继续` line, so any part can carry it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import replace

from wechatpy.crypto import WeChatCrypto
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

from bot.chat.message import Reply
from bot.chat.render import PROFILE_PREFIX, render_plain, split_text

MESSAGE_BYTES = 2048
"""WeChat refuses longer text messages (UTF-8 bytes)."""
MORE = "回复“继续”查看下一段"
"""Ends a message whose answer has more parts queued."""
WAITING = "正在整理…回复任意文字获取"
"""The passive reply when an answer is not ready in time and will wait for the user's next message."""
STILL_WAITING = "还在整理，请稍后回复任意文字获取。"
NOTHING_MORE = "没有更多内容了。发送问题继续提问，或发送“帮助”查看用法。"
SOURCES_HEADING = "来源："
PROFILE_HINT = "发送“人物 名字”查看简介和代表性发言。"
BUTTON_HINTS = ("点下面的名字查看简介和代表性发言。",)
"""Lines of the chat core that point at buttons, which WeChat does not have."""
SEPARATOR = "\n\n"
_SOURCE_LINE = re.compile(r"^((?:\[\d+\])*)\s*(.*)$", re.DOTALL)
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def utf8_len(text: str) -> int:
    """Return the length WeChat measures: bytes of UTF-8."""
    return len(text.encode())


def footnotes(reply: Reply) -> list[str]:
    """Return one footnote per source, its citation markers first: `[1][3] 标题 · 媒体 · 日期`."""
    lines = reply.sources or tuple(f"[{c.n}] {c.source}" for c in reply.citations)
    grouped: dict[str, str] = {}
    for line in lines:
        match = _SOURCE_LINE.match(line.strip())
        markers, description = match.groups() if match else ("", line.strip())
        if description or markers:
            grouped[description] = grouped.get(description, "") + markers
    return [f"{markers} {description}".strip() for description, markers in grouped.items()]


def render_text(reply: Reply) -> str:
    """Render one reply as plain text: title, text, footnotes; button hints become typed commands."""
    text = reply.text.strip()
    if any(b.payload.startswith(f"{PROFILE_PREFIX}:") for b in reply.buttons):
        for hint in BUTTON_HINTS:
            text = text.replace(hint, "").strip()
        text = f"{text}\n\n{PROFILE_HINT}"
    notes = footnotes(reply)
    return render_plain(replace(reply, text=text, sources=(SOURCES_HEADING, *notes) if notes else ()))


def render_parts(replies: Iterable[Reply], *, limit: int = MESSAGE_BYTES) -> list[str]:
    """Render replies as messages of at most `limit` bytes with room left for the `继续` line."""
    room = limit - utf8_len("\n\n" + MORE)
    pieces = [piece for reply in replies for piece in split_text(render_text(reply), room, measure=utf8_len)]
    parts: list[str] = []
    for piece in pieces:
        if parts and utf8_len(parts[-1] + SEPARATOR + piece) <= room:
            parts[-1] += SEPARATOR + piece
        else:
            parts.append(piece)
    return parts


def with_more(text: str, *, more: bool) -> str:
    """Return a message, ending with the `继续` line when more parts are queued."""
    return f"{text}\n\n{MORE}" if more else text


def cdata_safe(text: str) -> str:
    """Return text that survives inside the CDATA section wechatpy writes it into.

    `]]>` would end the section early (a user's words echoed in an error, a quote), so it is split
    across two sections; characters XML 1.0 forbids are dropped.
    """
    return _XML_FORBIDDEN.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def reply_xml(message: BaseMessage, text: str, *, crypto: WeChatCrypto | None, nonce: str) -> str:
    """Build the passive text reply to `message`, encrypted and signed when `crypto` is given."""
    xml = str(TextReply(message=message, content=cdata_safe(text), time=int(time.time())).render())
    if crypto is None:
        return xml
    return str(crypto.encrypt_message(xml, nonce))
