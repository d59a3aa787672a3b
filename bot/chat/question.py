"""Plain-text questions: `X是谁` profile cards, the chat's `/with` persona, and follow-ups.

Follow-ups: a short plain message (at most `FOLLOW_UP_CHARS` characters) sent within
`FOLLOW_UP_SECONDS` of an answered question is read as a follow-up when it brings no topic words
of its own (`那李涛呢？`) or opens or ends like one (`为什么？`, `那他怎么看？`, `…呢`). It is asked
together with the previous question's topic, of the personas it names, or else of those who
answered last. In extractive mode this surfaces the same person's words on that topic again; it
never invents a reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from bot.chat.message import Reply
from bot.chat.render import profile_reply
from bot.chat.store import Exchange
from bot.chat.turn import Core, Turn
from bot.persona.registry import PersonaRegistry
from bot.router import content_terms

FOLLOW_UP_CHARS = 20
FOLLOW_UP_SECONDS = 30 * 60
_FOLLOW_UP = re.compile(
    r"^(?:那|那么|所以|为什么|为啥|怎么讲|怎么说|具体|详细|展开|还有|然后|比如|举个例子)"
    r"|(?<!其)[他她]|呢[？?！!。.…\s]*$"
)
_WHO_IS = re.compile(r"^\s*@?(.{1,20}?)\s*(?:是谁|是什么人|是做什么的)\s*[?？]?\s*$")


@dataclass(frozen=True)
class FollowUp:
    """A short message read as a follow-up on the previous topic."""

    question: str
    topic: str
    persona_ids: tuple[str, ...]


def read_follow_up(last: Exchange | None, text: str, registry: PersonaRegistry) -> FollowUp | None:
    """Read a short message as a follow-up on `last`, the chat's previous exchange, if it is one."""
    if last is None or not last.personas or len(text) > FOLLOW_UP_CHARS:
        return None
    if time.time() - last.ts > FOLLOW_UP_SECONDS:
        return None
    if content_terms(text, registry) and not _FOLLOW_UP.search(text):
        return None
    named = tuple(p.id for p in registry.find_mentions(text))
    ids = named or tuple(pid for pid in last.personas if pid in registry)
    return FollowUp(f"{last.topic} {text}", last.topic, ids) if ids else None


async def answer_question(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Answer plain text: the chat's `/with` persona, a follow-up's personas, or whoever the router picks."""
    inbound = turn.inbound
    text = inbound.text.strip()
    if not text:
        if not inbound.is_group:
            yield Reply("请发送文字问题，或发送 /help 查看用法。")
        return
    registry = service.panel.registry
    asked_about = _WHO_IS.match(text)
    if asked_about and asked_about.group(1) in registry:  # `李开复是谁？` asks for the profile card
        yield profile_reply(registry.get(asked_about.group(1)), sources=service.panel.sources)
        return
    active = service.store.active_persona(inbound.chat_id)
    if active and active not in registry:
        service.store.set_active_persona(inbound.chat_id, None)
        yield Reply(f"嘉宾 {active} 已不在名单中，已结束单独对话。")
        active = None
    if active and any(p.id != active for p in registry.find_mentions(text)):
        active = None  # a question that names someone else is theirs, even during `/with`
    history = service.store.history(inbound.chat_id)
    follow = read_follow_up(history[-1] if history else None, text, registry)
    persona_ids: Sequence[str] = [active] if active else (follow.persona_ids if follow else ())
    async for reply in service.answer(
        turn,
        follow.question if follow else text,
        asked=text,
        topic=follow.topic if follow else text,
        persona_ids=persona_ids,
    ):
        yield reply
