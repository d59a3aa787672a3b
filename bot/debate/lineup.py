"""The lineup: who debates a proposition, on which side, from what the sources show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from bot.debate.claim import Claim, read_claim
from bot.debate.stance import MIN_MASS, Position, Stance, classify
from bot.persona.profile import Persona
from bot.persona.registry import PersonaRegistry
from bot.retrieval.search import Retriever

PER_SIDE = 2
"""At most this many speakers on each side."""
SECOND_SHARE = 0.25
"""A further speaker must hold its side with at least this share of the first speaker's evidence."""
MIN_PANEL = 3
"""Neutral voices join when fewer speakers than this hold a side."""
MAX_NEUTRAL = 2
MIN_NEUTRAL_TOPICALITY = 0.2
"""A neutral voice must have said something this close to the proposition to be seated."""


@dataclass(frozen=True)
class Lineup:
    """The seated speakers by side, and the named personas who have nothing on the proposition."""

    claim: Claim
    positions: tuple[Position, ...]
    pro: tuple[Position, ...] = ()
    con: tuple[Position, ...] = ()
    neutral: tuple[Position, ...] = ()
    silent: tuple[Persona, ...] = ()
    named: bool = False

    @property
    def speakers(self) -> list[Position]:
        """Seated speakers in speaking order: the sides alternate, then the neutral voices.

        Named personas speak in the order they were named.
        """
        if self.named:
            seated = {p.persona.id: p for p in (*self.pro, *self.con, *self.neutral)}
            return [seated[p.persona.id] for p in self.positions if p.persona.id in seated]
        order: list[Position] = []
        for i in range(max(len(self.pro), len(self.con))):
            order += [side[i] for side in (self.pro, self.con) if i < len(side)]
        return order + list(self.neutral)

    @property
    def disputed(self) -> bool:
        """Whether both sides have a voice."""
        return bool(self.pro and self.con)

    def stance_of(self, persona_id: str) -> Stance:
        """The side a seated persona speaks for."""
        for stance, side in (("pro", self.pro), ("con", self.con)):
            if any(p.persona.id == persona_id for p in side):
                return stance  # type: ignore[return-value]
        return "neutral"


def choose_lineup(
    proposition: str,
    registry: PersonaRegistry,
    retriever: Retriever,
    texts: Mapping[str, str],
    *,
    named: Sequence[Persona] = (),
) -> Lineup:
    """Weigh the personas and seat a panel: both sides when the sources hold both, up to `PER_SIDE` each.

    Named personas are seated as given: those with nothing on the proposition are `silent`. Otherwise
    the strongest positions on each side are seated; a side nobody clearly holds gets the relevant
    persona leaning most its way, marked partial; neutral voices join a small panel.
    """
    claim = read_claim(proposition, registry, retriever.idf)
    if named:
        unique = list({p.id: p for p in named}.values())
        positions = classify(proposition, registry, retriever, texts, personas=unique)
        speaking = [p for p in positions if p.relevant]
        return Lineup(
            claim,
            tuple(positions),
            pro=tuple(p for p in speaking if p.stance == "pro"),
            con=tuple(p for p in speaking if p.stance == "con"),
            neutral=tuple(p for p in speaking if p.stance == "neutral"),
            silent=tuple(p.persona for p in positions if not p.relevant),
            named=True,
        )
    positions = classify(proposition, registry, retriever, texts)
    relevant = [p for p in positions if p.relevant]
    pro, con = _side(relevant, "pro"), _side(relevant, "con")
    undecided = [p for p in relevant if p.stance == "neutral"]
    if bool(pro) != bool(con):
        empty_is_pro = not pro
        leaning = [p for p in undecided if p.mass >= MIN_MASS and p.lean and (p.lean > 0) == empty_is_pro]
        if leaning:
            best = max(leaning, key=lambda p: (abs(p.lean) * p.mass, p.persona.id))
            undecided.remove(best)
            promoted = replace(best, stance="pro" if empty_is_pro else "con", partial=True)
            (pro if empty_is_pro else con).append(promoted)
    neutral: list[Position] = []
    if len(pro) + len(con) < MIN_PANEL:
        fitting = [p for p in undecided if p.topicality >= MIN_NEUTRAL_TOPICALITY]
        fitting.sort(key=lambda p: (-p.topicality, p.persona.id))
        neutral = fitting[: min(MAX_NEUTRAL, MIN_PANEL - len(pro) - len(con))]
        if not pro and not con and not neutral and relevant:
            neutral = sorted(relevant, key=lambda p: (-p.topicality, p.persona.id))[:1]
    sides = {p.persona.id: p for p in (*pro, *con)}
    merged = tuple(sides.get(p.persona.id, p) for p in positions)
    return Lineup(claim, merged, tuple(pro), tuple(con), tuple(neutral))


def _side(positions: Sequence[Position], stance: Stance) -> list[Position]:
    """The strongest holders of one side (positions come strongest first), at most `PER_SIDE`."""
    holders = [p for p in positions if p.stance == stance]
    if not holders:
        return []
    lead = _strength(holders[0])
    return [holders[0]] + [p for p in holders[1:PER_SIDE] if _strength(p) >= SECOND_SHARE * lead]


def _strength(position: Position) -> float:
    """How firmly a position holds its side: its evidence times its lean."""
    return position.mass * abs(position.lean)
