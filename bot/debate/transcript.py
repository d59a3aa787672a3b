"""The record of a debate: turns, the closing summary, and the `debate --json` shape (DESIGN.md §3.3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.compose.answer import Citation
from bot.debate.stance import Position, Stance

MODERATOR = "panelbot"
"""Who moderates: the bot itself, which only says neutral, procedural or quoted things."""
MODERATOR_ID = "moderator"
MODERATOR_NAME = "主持人"
TurnKind = Literal["opening", "statement", "rebuttal", "silent", "procedure", "closing"]


@dataclass(frozen=True)
class SummaryItem:
    """One point of the closing summary: quotes of two speakers that agree or differ, cited."""

    term: str
    """The key word the quotes meet on (empty when they differ on the proposition as a whole)."""
    text: str
    """The moderator's sentence with `[n]` markers; everything after a name is a verbatim quote."""
    personas: tuple[str, ...]
    citations: tuple[Citation, ...]

    def to_dict(self) -> dict[str, object]:
        """Return the summary item's JSON shape."""
        return {
            "term": self.term,
            "text": self.text,
            "personas": list(self.personas),
            "citations": [c.to_dict() for c in self.citations],
        }


@dataclass(frozen=True)
class Summary:
    """Where the speakers meet and where they part, each point backed by their quotes."""

    agreements: tuple[SummaryItem, ...] = ()
    disagreements: tuple[SummaryItem, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Return the `summary` JSON shape."""
        return {
            "agreements": [a.to_dict() for a in self.agreements],
            "disagreements": [d.to_dict() for d in self.disagreements],
        }


@dataclass(frozen=True)
class DebateTurn:
    """One message of the debate: a persona's cited words, or the moderator's procedure or summary."""

    round: int
    """0: the moderator's opening and the opening statements; 1…N: rebuttal rounds; then the closing."""
    persona: str
    """A persona id, or `moderator`."""
    name: str
    stance: Stance
    text: str
    citations: tuple[Citation, ...] = ()
    replying_to: int | None = None
    """Index (in the debate's turns) of the turn this one answers."""
    kind: TurnKind = "statement"
    summary: Summary | None = None
    """The closing turn carries the summary it reads out."""

    def to_dict(self) -> dict[str, object]:
        """Return the DESIGN.md §3.3 turn shape."""
        return {
            "round": self.round,
            "persona": self.persona,
            "name": self.name,
            "stance": self.stance,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "replying_to": self.replying_to,
        }


@dataclass(frozen=True)
class Debate:
    """A staged debate: who sits on which side, every turn, and the closing summary."""

    proposition: str
    pro: tuple[str, ...]
    con: tuple[str, ...]
    turns: tuple[DebateTurn, ...]
    summary: Summary = field(default_factory=Summary)
    moderator: str = MODERATOR
    positions: tuple[Position, ...] = ()
    """Every persona weighed, with its stance (seated or not); not part of the JSON."""

    def to_dict(self) -> dict[str, object]:
        """Return the DESIGN.md §3.3 `debate --json` shape."""
        return {
            "proposition": self.proposition,
            "moderator": self.moderator,
            "sides": {"pro": list(self.pro), "con": list(self.con)},
            "turns": [t.to_dict() for t in self.turns],
            "summary": self.summary.to_dict(),
        }
