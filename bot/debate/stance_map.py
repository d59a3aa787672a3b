"""The stance map: everyone who addressed a proposition, placed pro, con or neutral, each with proof.

Each position carries the one claim of the persona's that shows where it stands: the sentence
holding its strongest clause for its side (for a neutral voice, its clause closest to the
proposition), quoted verbatim and cited as `ask` cites. The placement is the debate's (`classify`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.compose.answer import Citation
from bot.debate.lineup import MIN_NEUTRAL_TOPICALITY
from bot.debate.stance import Clause, Position, Stance, classify
from bot.ingest.text import split_sentences
from bot.panel import Panel

SIDE_ORDER: dict[Stance, int] = {"pro": 0, "con": 1, "neutral": 2}
SHORT_CLAIM = 8
"""A claim sentence shorter than this (`一定能。`) is extended by the sentence after it."""


@dataclass(frozen=True)
class MapPosition:
    """One persona on the map: its side and the verbatim claim that shows it."""

    persona: str
    name: str
    stance: Stance
    claim: str
    citations: tuple[Citation, ...]
    partial: bool = False
    """Its words also hold the other view; the side is a lean."""

    def to_dict(self) -> dict[str, object]:
        """Return the `map --json` position shape."""
        return {
            "persona": self.persona,
            "name": self.name,
            "stance": self.stance,
            "claim": self.claim,
            "citations": [c.to_dict() for c in self.citations],
            "partial": self.partial,
        }


@dataclass(frozen=True)
class StanceMap:
    """Who stands where on a proposition; `silent` are named personas who never addressed it."""

    proposition: str
    positions: tuple[MapPosition, ...]
    silent: tuple[tuple[str, str], ...] = field(default=())
    """(id, name) of each named persona who never addressed it."""

    def side(self, stance: Stance) -> list[MapPosition]:
        """The positions on one side, strongest first."""
        return [p for p in self.positions if p.stance == stance]

    def to_dict(self) -> dict[str, object]:
        """Return the `map --json` shape."""
        return {
            "proposition": self.proposition,
            "positions": [p.to_dict() for p in self.positions],
            "silent": [{"persona": pid, "name": name} for pid, name in self.silent],
        }


def stance_map(panel: Panel, proposition: str, *, persona_ids: Sequence[str] = ()) -> StanceMap:
    """Place everyone who addressed `proposition` (or only the named personas), each with its claim.

    Raises:
        UnknownPersonaError: a named persona does not exist.
    """
    proposition = proposition.strip()
    named = list({p.id: p for p in (panel.registry.get(key) for key in persona_ids)}.values())
    texts: Mapping[str, str] = {sid: s.text for sid, s in panel.sources.items()}
    positions = classify(proposition, panel.registry, panel.retriever, texts, personas=named or None)
    return map_of(proposition, positions, texts, named=[(p.id, p.name) for p in named])


def map_of(
    proposition: str,
    positions: Sequence[Position],
    texts: Mapping[str, str],
    *,
    named: Sequence[tuple[str, str]] = (),
) -> StanceMap:
    """Build the map from placed positions (a debate's lineup holds them too)."""
    placed = [p for p in positions if _on_map(p, named=bool(named))]
    placed.sort(key=lambda p: (SIDE_ORDER[p.stance], -p.mass * abs(p.lean), -p.topicality, p.persona.id))
    entries = [entry for p in placed if (entry := _entry(p, texts)) is not None]
    shown = {e.persona for e in entries}
    return StanceMap(proposition, tuple(entries), tuple(n for n in named if n[0] not in shown))


def _on_map(position: Position, *, named: bool) -> bool:
    """Whether a position belongs on the map: it addressed the proposition (a neutral one closely)."""
    if not position.relevant:
        return False
    return position.stance != "neutral" or named or position.topicality >= MIN_NEUTRAL_TOPICALITY


def _entry(position: Position, texts: Mapping[str, str]) -> MapPosition | None:
    """The position with its best clause's sentence as the claim (None when it has no clause)."""
    clause = _best_clause(position)
    if clause is None:
        return None
    passage = clause.passage
    start, end = _sentence_around(passage.text, clause.start, clause.end)
    source_start, source_end = passage.start + start, passage.start + end
    quote = texts.get(passage.source, "")[source_start:source_end]
    if quote != passage.text[start:end]:  # the passage is not where it says: cite nothing rather than guess
        return None
    citation = Citation(1, passage.source, source_start, source_end, passage.kind, quote)
    return MapPosition(
        position.persona.id,
        position.persona.name,
        position.stance,
        quote,
        (citation,),
        partial=position.partial,
    )


def _best_clause(position: Position) -> Clause | None:
    """The clause that shows the position best: the strongest for its side, or the most on-topic."""
    sign = {"pro": 1.0, "con": -1.0}.get(position.stance)
    clauses = [c for c in position.clauses if c.passage.role == "view"] or list(position.clauses)
    if sign is None:
        return max(clauses, key=lambda c: (c.weight, -c.passage.start), default=None)
    backing = [c for c in clauses if c.polarity * sign > 0]
    return max(backing, key=lambda c: (c.weight * c.polarity * sign, c.weight), default=None)


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence(s) of `text` holding `start…end`, extended by the next when very short."""
    sentences = split_sentences(text, 0, len(text))
    inside = [i for i, (a, b) in enumerate(sentences) if a < end and start < b]
    if not inside:
        return start, end
    first, last = inside[0], inside[-1]
    if sentences[last][1] - sentences[first][0] < SHORT_CLAIM and last + 1 < len(sentences):
        last += 1
    return sentences[first][0], sentences[last][1]
