"""Chunking: cut each quote into sentence-aligned passages that never cross speakers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bot.ingest.text import split_sentences
from bot.persona.profile import Persona
from bot.retrieval.passage import Passage

WINDOW = 110
"""Sentences are joined into one passage up to about this many characters."""


def passages_of(personas: Iterable[Persona]) -> Iterator[Passage]:
    """Yield the passages of every quote of every persona, in order."""
    for persona in personas:
        for quote in persona.quotes:
            for start, end in _windows(quote.text):
                yield Passage(
                    id=f"{quote.id}:{start}",
                    persona_id=persona.id,
                    quote_id=quote.id,
                    source=quote.source,
                    start=quote.start + start,
                    end=quote.start + end,
                    kind=quote.kind,
                    role=quote.role,
                    text=quote.text[start:end],
                    relayed_from=quote.relayed_from,
                    asked=quote.asked.text if quote.asked is not None else "",
                )


def _windows(text: str) -> list[tuple[int, int]]:
    """Group consecutive sentences of a quote into windows of about `WINDOW` characters."""
    windows: list[tuple[int, int]] = []
    for start, end in split_sentences(text, 0, len(text)):
        if windows and end - windows[-1][0] <= WINDOW:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows or [(0, len(text))]
