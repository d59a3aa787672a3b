"""Turns and prompts: which question each of a persona's answers replies to, and who only asks.

In interviews and salons an answer is about the question put right before it: the nearest line
ending in a question mark, a few lines above the speaker's label (`于千城:`), is that turn's prompt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.ingest.text import is_question
from bot.persona.profile import Persona

PROMPT_LINES = 8
"""How many lines before a turn are searched for the question it answers."""
HOST_SHARE = 0.5
"""A persona more than this share of whose quotes are questions is a host, not a debater."""
_SPEAKER_LABEL = re.compile(r"[:：]\s*$")
POLAR = re.compile(r"有没有|是不是|能不能|会不会|可不可以|要不要|是否|能否|吗\s*[?？]")
"""A yes/no question: the answer's first verdict answers it."""
_QUESTION_END = re.compile(r"[?？][”’」』\"')）]*\s*$")


@dataclass
class Turns:
    """What question each turn of a persona answers (quote id → question text)."""

    prompts: dict[str, str] = field(default_factory=dict)
    openings: set[str] = field(default_factory=set)
    """Quote ids that open a turn (right after a speaker label)."""


def turns_of(persona: Persona, texts: Mapping[str, str]) -> Turns:
    """Find the turns of a persona's views and the question right before each turn."""
    turns = Turns()
    previous: tuple[str, int] | None = None
    prompt = ""
    for quote in sorted(persona.quotes, key=lambda q: (q.source, q.start)):
        text = texts.get(quote.source, "")
        line_start = text.rfind("\n", 0, quote.start) + 1
        labelled = bool(_SPEAKER_LABEL.search(text[line_start : quote.start]))
        adjacent = (
            previous is not None
            and previous[0] == quote.source
            and not text[previous[1] : quote.start].strip()
        )
        if labelled or not adjacent:
            prompt = _prompt_before(text, line_start)
            if labelled:
                turns.openings.add(quote.id)
        if quote.role == "view" and prompt:
            turns.prompts[quote.id] = prompt
        previous = (quote.source, quote.end)
    return turns


def _prompt_before(text: str, line_start: int) -> str:
    """Return the nearest question line within `PROMPT_LINES` lines before `line_start`, or ""."""
    end = line_start - 1
    seen = 0
    while end > 0 and seen < PROMPT_LINES:
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end].strip()
        if line:
            seen += 1
            if _QUESTION_END.search(line):
                return line
        end = start - 1
    return ""


def is_host(persona: Persona) -> bool:
    """Whether a persona is mostly a host asking questions (it moderates; it does not debate)."""
    questions = sum(q.role == "question" or is_question(q.text) for q in persona.quotes)
    return questions > HOST_SHARE * max(1, len(persona.quotes))
