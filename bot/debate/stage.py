"""Staging a debate: the moderator opens, each speaker states, rebuts in rounds, and the moderator sums up.

Every persona line is verbatim and cited, rendered as extractive answers are (`say`): direct
words in “…”, a narrator's paraphrase as （据报道）…, relayed words as relayed. No passage is
said twice in a debate. The moderator only says procedural things or quotes the speakers. With an
LLM configured the debate stays extractive: no connective sentence is generated, so none needs
checking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bot.compose.answer import Citation
from bot.compose.extractive import citations_for, say, where
from bot.debate.lineup import Lineup, choose_lineup
from bot.debate.stance import Position, Stance, clauses_of
from bot.debate.summary import SIDE_LABEL, Spoken, summarize
from bot.debate.transcript import (
    MODERATOR,
    MODERATOR_ID,
    MODERATOR_NAME,
    Debate,
    DebateTurn,
    Summary,
    TurnKind,
)
from bot.panel import Panel
from bot.retrieval.passage import Passage

DEFAULT_ROUNDS = 2
MAX_ROUNDS = 10
"""More rebuttal rounds than this are not staged, whatever is asked."""
REPLY_HITS = 8
"""Passages of the speaker retrieved for the point it answers."""
REPLY_MIN = 0.45
"""Least fit (meaning similarity to the point plus topic coverage) of a reply; less is no material."""
REPLY_TOPIC = 0.45
"""A reply must hold this share of the proposition's key terms, or be evidence for the speaker's side."""
REPLY_SUPPORT = 0.1
"""…or its clauses must back the speaker's side at least this much (weight × polarity)."""
TOPIC_SHARE = 0.5
"""How much the proposition's key terms count in a reply's fit, beside similarity to the point."""
RECENT_TARGETS = 6
"""A speaker answers one of the other side's last few turns."""

SILENT = "我在这些资料里没有谈过这个问题。"
"""The one uncited persona line: it claims nothing."""
NOBODY = "这些资料里没有人谈过「{proposition}」，这场辩论无法进行：我不会替任何人编造观点。"
NO_MATERIAL = "各位已经没有新的材料可以回应，辩论到此为止。"


@dataclass
class _Stage:
    """One debate in progress: the lineup, the turns so far and the passages already said."""

    panel: Panel
    proposition: str
    lineup: Lineup
    rounds: int
    turns: list[DebateTurn] = field(default_factory=list)
    spoken: list[Spoken] = field(default_factory=list)
    answered: set[tuple[str, int]] = field(default_factory=set)
    summary: Summary = field(default_factory=Summary)
    leans: dict[str, float] = field(default_factory=dict)
    """Net clause polarity toward the proposition, by passage id (weighing is the slow part)."""

    # -- the script --------------------------------------------------------------------------
    def script(self) -> Iterator[DebateTurn]:
        """Yield the turns one by one, each recorded before it is handed on."""
        speakers = self.lineup.speakers
        if not speakers and not self.lineup.silent:
            yield self._record(
                self._moderate(0, NOBODY.format(proposition=self.proposition), kind="procedure")
            )
            return
        yield self._record(self._moderate(0, self._opening(), kind="opening"))
        for position in speakers:
            statement = self._statement(position)
            if statement is not None:
                yield self._record(statement)
        for persona in self.lineup.silent:
            yield self._record(DebateTurn(0, persona.id, persona.name, "neutral", SILENT, kind="silent"))
        last = 0
        for number in range(1, self.rounds + 1) if self._has_opponents() else ():
            replies = self._round(number, speakers)
            first = next(replies, None)
            if first is None:
                yield self._record(self._moderate(number, NO_MATERIAL, kind="procedure"))
                break
            yield self._record(
                self._moderate(number, f"第{number}轮：请各位回应另一方的观点。", kind="procedure")
            )
            yield self._record(first)
            for reply in replies:
                yield self._record(reply)
            last = number
        if speakers:
            yield self._record(self._closing(last + 1))

    def _round(self, number: int, speakers: Sequence[Position]) -> Iterator[DebateTurn]:
        """Each speaker in turn answers the other side's most relevant point, if it has new material.

        Lazy: a speaker's reply is chosen after the previous one is recorded, so it may answer it.
        """
        for position in speakers:
            reply = self._reply(number, position)
            if reply is not None:
                yield reply

    # -- persona turns -----------------------------------------------------------------------
    def _statement(self, position: Position) -> DebateTurn | None:
        """Build the speaker's opening statement: its passage that backs its side best (None if it has none)."""
        stance = self.lineup.stance_of(position.persona.id)
        fresh = [p for p in position.passages() if not self._said(p)]
        return self._speak(0, position, stance, fresh[0], kind="statement") if fresh else None

    def _reply(self, number: int, position: Position) -> DebateTurn | None:
        """Answer the most relevant recent point of the other side with the speaker's closest new passage."""
        me = position.persona.id
        stance = self.lineup.stance_of(me)
        targets = [
            i
            for i, turn in enumerate(self.turns)
            if turn.persona not in (MODERATOR_ID, me)
            and turn.citations
            and _opposed(stance, turn.stance)
            and (me, i) not in self.answered
        ][-RECENT_TARGETS:]
        best: tuple[float, int, Passage] | None = None
        for rank, index in enumerate(reversed(targets)):
            point = " ".join(c.quote for c in self.turns[index].citations)
            for hit in self.panel.retriever.search(point, top_k=REPLY_HITS, personas=[me]):
                topic = self.lineup.claim.coverage(hit.passage.text)
                lean = self._lean(hit.passage, stance)
                backs = position.support(hit.passage, stance) >= REPLY_SUPPORT or lean >= REPLY_SUPPORT
                if self._said(hit.passage) or not self._contradicts(lean, stance) or not (topic >= REPLY_TOPIC or backs):
                    continue
                fit = hit.dense + TOPIC_SHARE * topic - 0.01 * rank
                if fit >= REPLY_MIN and (best is None or fit > best[0]):
                    best = (fit, index, hit.passage)
        if best is None and targets and stance != "neutral":
            # No close answer to a point: the speaker's next unused passage for its side still answers it.
            fresh = [p for p in position.passages() if not self._said(p) and self._lean(p, stance) > 0]
            if fresh:
                best = (0.0, targets[-1], fresh[0])
        if best is None:
            return None
        _, index, passage = best
        self.answered.add((me, index))
        return self._speak(number, position, stance, passage, kind="rebuttal", replying_to=index)

    def _lean(self, passage: Passage, stance: Stance) -> float:
        """How far a passage's clauses argue for `stance` (weight × polarity summed; 0 for neutral)."""
        sign = {"pro": 1.0, "con": -1.0}.get(stance, 0.0)
        if passage.id not in self.leans:
            self.leans[passage.id] = sum(c.weight * c.polarity for c in clauses_of(passage, self.lineup.claim))
        return sign * self.leans[passage.id]

    @staticmethod
    def _contradicts(lean: float, stance: Stance) -> bool:
        """Whether a reply with this lean contradicts the other side: it argues for the speaker's own side."""
        return stance == "neutral" or lean > 0

    def _speak(
        self,
        number: int,
        position: Position,
        stance: Stance,
        passage: Passage,
        *,
        kind: TurnKind,
        replying_to: int | None = None,
    ) -> DebateTurn:
        """Render one passage in the persona's voice, cited, and mark it as said."""
        citations = citations_for([passage])
        meta = self.panel.sources[passage.source].meta if passage.source in self.panel.sources else None
        place = where(meta)
        lead = (
            f"我没有留下原话，{place}是这样转述我的看法的："
            if passage.kind == "reported"
            else f"我在{place}中说过："
        )
        if replying_to is not None:
            lead = f"（回应{self.turns[replying_to].name}）{lead}"
        text = f"{lead}\n{say(passage, citations[0].n)}"
        weighed = tuple(c for c in position.clauses if c.passage.id == passage.id)
        self.spoken.append(Spoken(position.persona, stance, passage, weighed))
        return DebateTurn(
            number,
            position.persona.id,
            position.persona.name,
            stance,
            text,
            citations,
            replying_to,
            kind=kind,
        )

    def _said(self, passage: Passage) -> bool:
        """Whether the passage, or any part of it, was already said in this debate."""
        return any(
            s.passage.source == passage.source
            and s.passage.start < passage.end
            and passage.start < s.passage.end
            for s in self.spoken
        )

    def _has_opponents(self) -> bool:
        """Whether anyone has someone to answer: two sides, or a neutral voice beside a side."""
        lineup = self.lineup
        return lineup.disputed or bool(
            lineup.neutral and (lineup.pro or lineup.con or len(lineup.neutral) > 1)
        )

    # -- moderator turns ---------------------------------------------------------------------
    def _opening(self) -> str:
        """Announce the proposition and who speaks for which side; say so when nobody disagrees."""
        lineup = self.lineup
        lines = [f"今天的命题：「{self.proposition}」。"]
        for stance, side in (("pro", lineup.pro), ("con", lineup.con)):
            if side:
                names = "、".join(_label(p) for p in side)
                lines.append(f"{SIDE_LABEL[stance]}：{names}。")
        if lineup.neutral:
            names = "、".join(p.persona.name for p in lineup.neutral)
            lines.append(f"谈到这个话题、但没有明确表态的：{names}。")
        if lineup.silent:
            names = "、".join(p.name for p in lineup.silent)
            lines.append(f"{names}在这些资料里没有谈过这个问题。")
        if not lineup.disputed and (lineup.pro or lineup.con):
            held = "支持" if lineup.pro else "反对"
            who = "点名的嘉宾中谈到它的" if lineup.named else "资料里谈到它的"
            lines.append(f"{who}人都是{held}的一方，没有人持相反的看法；下面只呈现已有的观点，不虚构对手。")
        elif not lineup.disputed and lineup.neutral and not lineup.named:
            lines.append("资料里没有人明确支持或反对这个命题；下面呈现他们谈到的内容。")
        lines.append("每位嘉宾只用自己在资料中的原话发言，并注明出处。先请各位作开场陈述。")
        return "\n".join(lines)

    def _closing(self, number: int) -> DebateTurn:
        """Build the summary turn: disagreements and agreements, each pairing cited quotes of the speakers."""
        self.summary = summarize(self.spoken, self.lineup.claim)
        lines = ["总结："]
        citations: list[Citation] = []
        for title, items in (("分歧", self.summary.disagreements), ("共识", self.summary.agreements)):
            for item in items:
                text = item.text
                for c in sorted(item.citations, key=lambda c: -c.n):  # renumber from the highest down
                    n = len(citations) + c.n
                    text = text.replace(f"[{c.n}]", f"[{n}]")
                citations += [
                    Citation(len(citations) + c.n, c.source, c.start, c.end, c.kind, c.quote)
                    for c in item.citations
                ]
                lines.append(f"{title}：{text}")
        if len(lines) == 1 and len({s.persona.id for s in self.spoken}) < 2:
            lines.append("只有一位嘉宾发言，没有可以对照的共识或分歧。")
        elif len(lines) == 1:
            lines.append("各位的原话没有落在同一个关键词上，无法对出共识或分歧，请对照上面的引文判断。")
        lines.append("辩论结束，感谢各位。")
        text = "\n".join(lines)
        return DebateTurn(
            number,
            MODERATOR_ID,
            MODERATOR_NAME,
            "neutral",
            text,
            tuple(citations),
            kind="closing",
            summary=self.summary,
        )

    def _moderate(self, number: int, text: str, *, kind: TurnKind) -> DebateTurn:
        """Build a procedural moderator line (no claims, no citations)."""
        return DebateTurn(number, MODERATOR_ID, MODERATOR_NAME, "neutral", text, kind=kind)

    def _record(self, turn: DebateTurn) -> DebateTurn:
        """Append a turn to the debate so later turns can answer it by index."""
        self.turns.append(turn)
        return turn


def _label(position: Position) -> str:
    """A speaker's name, marked when its words also hold the other view."""
    if not position.partial:
        return position.persona.name
    return f"{position.persona.name}（部分{'同意' if position.stance == 'pro' else '反对'}）"


def _opposed(mine: Stance, theirs: Stance) -> bool:
    """Whether a turn with stance `theirs` is one a speaker with stance `mine` answers."""
    return mine != theirs if mine != "neutral" else theirs != "neutral"


def _prepare(panel: Panel, proposition: str, persona_ids: Sequence[str], rounds: int) -> _Stage:
    """Resolve the named personas, weigh everyone, seat the lineup."""
    named = [panel.registry.get(key) for key in persona_ids]
    texts = {source_id: source.text for source_id, source in panel.sources.items()}
    lineup = choose_lineup(proposition.strip(), panel.registry, panel.retriever, texts, named=named)
    return _Stage(panel, proposition.strip(), lineup, max(0, min(rounds, MAX_ROUNDS)))


def iter_debate(
    panel: Panel,
    proposition: str,
    *,
    persona_ids: Sequence[str] = (),
    rounds: int = DEFAULT_ROUNDS,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[DebateTurn]:
    """Yield a debate's turns one at a time, so each can be sent as its own message.

    `should_stop` is asked before each turn is prepared; once it returns True nothing more is yielded.

    Raises:
        UnknownPersonaError: a named persona does not exist.
    """
    stop = should_stop or (lambda: False)
    if stop():
        return
    stage = _prepare(panel, proposition, persona_ids, rounds)
    script = stage.script()
    while not stop():
        turn = next(script, None)
        if turn is None:
            return
        yield turn


def stage_debate(
    panel: Panel, proposition: str, *, persona_ids: Sequence[str] = (), rounds: int = DEFAULT_ROUNDS
) -> Debate:
    """Stage a whole debate on `proposition` and return its record.

    Args:
        panel: the open panel (registry, sources, retriever).
        proposition: the statement debated, e.g. `中国AI有可能弯道超车`.
        persona_ids: personas (ids, names or aliases) to seat as given; empty to choose from the sources.
        rounds: the most rebuttal rounds after the opening statements (fewer when material runs out).

    Raises:
        UnknownPersonaError: a named persona does not exist.
    """
    stage = _prepare(panel, proposition, persona_ids, rounds)
    for _ in stage.script():
        pass
    lineup = stage.lineup
    return Debate(
        proposition=stage.proposition,
        pro=tuple(p.persona.id for p in lineup.pro),
        con=tuple(p.persona.id for p in lineup.con),
        turns=tuple(stage.turns),
        summary=stage.summary,
        moderator=MODERATOR,
        positions=lineup.positions,
    )
