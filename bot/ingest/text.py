"""Sentence and quotation boundaries in Chinese text, as offsets (the text is never changed)."""

from __future__ import annotations

import re

from bot.ingest.clean import CLOSERS, SENTENCE_END

QUOTE_OPEN, QUOTE_CLOSE = "“「", "”」"
_QUOTE = re.compile(r"“([^“”]*)”|「([^「」]*)」")


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split `text[start:end]` into sentence spans; never inside a “quotation”, trailing quotes kept."""
    spans: list[tuple[int, int]] = []
    depth = 0
    begin = i = start
    while i < end:
        char = text[i]
        if char in QUOTE_OPEN:
            depth += 1
        elif char in QUOTE_CLOSE:
            depth = max(0, depth - 1)
        if (
            char in SENTENCE_END
            and depth == 0
            or (char in QUOTE_CLOSE and depth == 0 and text[i - 1] in SENTENCE_END)
        ):
            j = i + 1
            while j < end and (text[j] in SENTENCE_END or text[j] in CLOSERS):
                j += 1
            spans.append((begin, j))
            begin = i = j
            continue
        i += 1
    if begin < end and text[begin:end].strip():
        spans.append((begin, end))
    return [trim(text, s, e) for s, e in spans if text[s:e].strip()]


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span so it neither starts nor ends with white space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def quotations(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Return the spans inside “quotation marks” (the marks excluded) within `text[start:end]`."""
    return [
        (m.start() + 1, m.end() - 1) for m in _QUOTE.finditer(text, start, end) if m.end() - m.start() > 2
    ]


def is_question(text: str) -> bool:
    """Whether a turn ends with a question mark."""
    return text.rstrip().rstrip(CLOSERS).endswith(("？", "?"))
