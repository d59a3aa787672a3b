"""Answers and their citations: what a persona says, and the source spans that prove it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from bot.ingest.span import SpeechKind

CITATION_PATTERN = re.compile(r"\[(\d+)\]")
Mode = Literal["extractive", "llm"]


@dataclass(frozen=True)
class Citation:
    """One numbered citation: the exact span of a source that backs a sentence."""

    n: int
    source: str
    start: int
    end: int
    kind: SpeechKind
    quote: str

    def to_dict(self) -> dict[str, object]:
        """Return the DESIGN.md §3.3 citation shape."""
        return {
            "n": self.n,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "quote": self.quote,
        }


@dataclass(frozen=True)
class Answer:
    """One persona's answer: text with `[n]` markers and the citations they point to."""

    persona_id: str
    name: str
    text: str
    citations: tuple[Citation, ...]
    mode: Mode = "extractive"
    note: str = ""
    """Why the answer is not what the mode promised, e.g. extractive because the model did not respond."""

    def to_dict(self) -> dict[str, object]:
        """Return the DESIGN.md §3.3 answer shape (with `note` only when there is one)."""
        data: dict[str, object] = {
            "persona": self.persona_id,
            "name": self.name,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
        }
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class RouteEntry:
    """A persona chosen to answer, with the router's score."""

    persona_id: str
    name: str
    score: float

    def to_dict(self) -> dict[str, object]:
        """Return the DESIGN.md §3.3 route shape."""
        return {"persona": self.persona_id, "name": self.name, "score": round(self.score, 4)}


@dataclass(frozen=True)
class AskResult:
    """The result of a question: who was routed, their answers, or an honest refusal."""

    question: str
    mode: Mode
    route: tuple[RouteEntry, ...] = ()
    answers: tuple[Answer, ...] = ()
    message: str = ""
    who_said: bool = field(default=False)
    """Whether the question asked who said something (answers then show the quote)."""

    def to_dict(self) -> dict[str, object]:
        """Return the DESIGN.md §3.3 `ask --json` shape."""
        return {
            "question": self.question,
            "mode": self.mode,
            "route": [r.to_dict() for r in self.route],
            "answers": [a.to_dict() for a in self.answers],
            "message": self.message,
        }
