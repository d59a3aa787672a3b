"""The closing summary: agreements and disagreements, each a pair of verbatim, cited sentences.

Extractive and checkable: the moderator names no view of its own. A *disagreement* pairs the pro
sentence and the con sentence that best state their sides on the same key term of the proposition
(the rarest term both hold; the proposition as a whole when they share none). An *agreement*
pairs sentences of two speakers (of opposite sides when both sides spoke) that lean the same way
and share a claim word: the same stance cue (`可能性几乎没有`) or rare key terms of the proposition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.compose.answer import Citation
from bot.debate.claim import Claim
from bot.debate.cue import find_cues
from bot.debate.stance import Clause, Stance, clauses_of
from bot.debate.transcript import Summary, SummaryItem
from bot.ingest.text import split_sentences
from bot.persona.profile import Persona
from bot.retrieval.passage import Passage

MAX_ITEMS = 2
MIN_EVIDENCE = 0.08
"""A sentence states a side when its clauses' weight × polarity add up to at least this."""
"""At most this many agreements and this many disagreements."""
AGREE_MIN = 3.0
"""Shared key terms and cues must weigh at least this much (IDF) to count as a shared claim."""
CUE_BONUS = 3.0
"""A shared stance cue counts like a rare key term."""
SIDE_LABEL = {"pro": "正方", "con": "反方", "neutral": "中立"}


@dataclass(frozen=True)
class Spoken:
    """A passage said in the debate, by whom and for which side."""

    persona: Persona
    stance: Stance
    passage: Passage
    clauses: tuple[Clause, ...] = ()
    """The passage's clauses as its speaker's position weighed them (empty: weigh them afresh)."""


@dataclass(frozen=True)
class _Sentence:
    """One sentence of a spoken passage, read against the claim."""

    spoken: Spoken
    start: int
    end: int
    """Offsets into the passage text."""
    coverage: float
    polarity: float
    """Sum of its clauses' weight × polarity: signed evidence toward the proposition."""
    cues: frozenset[str]

    @property
    def text(self) -> str:
        """The sentence's words."""
        return self.spoken.passage.text[self.start : self.end]

    def strength(self, stance: Stance) -> float:
        """How well the sentence states `stance`: topic coverage plus polarity that way."""
        lean = self.polarity if stance == "pro" else -self.polarity if stance == "con" else 0.0
        return self.coverage + max(0.0, lean)

    def citation(self, n: int) -> Citation:
        """Cite exactly this sentence: a verbatim sub-span of the passage."""
        p = self.spoken.passage
        return Citation(
            n=n,
            source=p.source,
            start=p.start + self.start,
            end=p.start + self.end,
            kind=p.kind,
            quote=self.text,
        )


def summarize(spoken: Sequence[Spoken], claim: Claim) -> Summary:
    """Find where the speakers differ and where they meet, from what they said in the debate."""
    sentences = [s for item in spoken for s in _sentences(item, claim)]
    return Summary(
        agreements=tuple(_agreements(sentences, claim)),
        disagreements=tuple(_disagreements(sentences, claim)),
    )


def _sentences(spoken: Spoken, claim: Claim) -> list[_Sentence]:
    """Cut a spoken passage into sentences with their coverage, polarity and cues."""
    clauses = spoken.clauses or tuple(clauses_of(spoken.passage, claim))
    found = []
    for start, end in split_sentences(spoken.passage.text, 0, len(spoken.passage.text)):
        inside = [c for c in clauses if start <= c.start and c.end <= end]
        polarity = sum(c.weight * c.polarity for c in inside)
        text = spoken.passage.text[start:end]
        cues = frozenset(cue for cue, value, _ in find_cues(text) if abs(value) >= 1.0)
        found.append(_Sentence(spoken, start, end, claim.coverage(text), polarity, cues))
    return found


def _disagreements(sentences: Sequence[_Sentence], claim: Claim) -> list[SummaryItem]:
    """Pair the best pro and con sentences on the rarest key terms they share."""
    pro = [s for s in sentences if s.spoken.stance == "pro" and s.polarity >= MIN_EVIDENCE]
    con = [s for s in sentences if s.spoken.stance == "con" and s.polarity <= -MIN_EVIDENCE]
    if not pro or not con:
        return []
    items: list[SummaryItem] = []
    used: set[int] = set()
    for term in sorted(claim.terms, key=lambda t: -claim.idf[t]):
        a = [s for s in pro if id(s) not in used and claim.matches(term, s.text.lower()) >= 1.0]
        b = [s for s in con if id(s) not in used and claim.matches(term, s.text.lower()) >= 1.0]
        if a and b:
            best_a, best_b = max(a, key=lambda s: s.strength("pro")), max(b, key=lambda s: s.strength("con"))
            _add_pair(items, used, _spelled(term, claim.text), best_a, best_b)
        if len(items) == MAX_ITEMS:
            return items
    if not items:
        best_a, best_b = max(pro, key=lambda s: s.strength("pro")), max(con, key=lambda s: s.strength("con"))
        _add_pair(items, used, "", best_a, best_b)
    return items


def _add_pair(items: list[SummaryItem], used: set[int], term: str, a: _Sentence, b: _Sentence) -> None:
    """Add one disagreement; each sentence is quoted in one disagreement only."""
    used.update((id(a), id(b)))
    topic = f"在「{term}」上" if term else "在这个命题上"
    text = f"{topic}，{_quote(a, 1)}；{_quote(b, 2)}。"
    citations = (a.citation(1), b.citation(2))
    items.append(SummaryItem(term, text, (a.spoken.persona.id, b.spoken.persona.id), citations))


def _agreements(sentences: Sequence[_Sentence], claim: Claim) -> list[SummaryItem]:
    """Pair sentences of different speakers that lean the same way and share a stance cue or key term."""
    sides = {s.spoken.stance for s in sentences}
    across = "pro" in sides and "con" in sides
    scored: list[tuple[float, str, _Sentence, _Sentence]] = []
    for i, a in enumerate(sentences):
        for b in sentences[i + 1 :]:
            if a.spoken.persona.id == b.spoken.persona.id or a.polarity * b.polarity < MIN_EVIDENCE**2:
                continue
            if across and {a.spoken.stance, b.spoken.stance} != {"pro", "con"}:
                continue
            cues = a.cues & b.cues
            terms = [t for t in claim.terms if t in a.text.lower() and t in b.text.lower()]
            weight = sum(claim.idf[t] for t in terms) + CUE_BONUS * len(cues)
            if weight < AGREE_MIN:
                continue
            term = (
                max(cues, key=len)
                if cues
                else _spelled(max(terms, key=lambda t: (claim.idf[t], t)), claim.text)
            )
            scored.append((weight, term, a, b))
    scored.sort(key=lambda item: -item[0])
    items: list[SummaryItem] = []
    pairs: set[frozenset[str]] = set()
    for _, term, a, b in scored:
        pair = frozenset({a.spoken.persona.id, b.spoken.persona.id})
        if pair in pairs:
            continue
        pairs.add(pair)
        names = f"{a.spoken.persona.name}和{b.spoken.persona.name}"
        text = f"{names}都说到「{term}」：{_quote(a, 1)}；{_quote(b, 2)}。"
        citations = (a.citation(1), b.citation(2))
        items.append(SummaryItem(term, text, (a.spoken.persona.id, b.spoken.persona.id), citations))
        if len(items) == MAX_ITEMS:
            break
    return items


def _quote(sentence: _Sentence, n: int) -> str:
    """Name the speaker and quote the sentence; a narrator's paraphrase is marked as reported."""
    persona, side = sentence.spoken.persona.name, SIDE_LABEL[sentence.spoken.stance]
    words = sentence.text.rstrip("。！？!?；;")
    if sentence.spoken.passage.kind == "reported":
        return f"{persona}（{side}，据报道）：{words}[{n}]"
    return f"{persona}（{side}）说“{words}”[{n}]"


def _spelled(term: str, proposition: str) -> str:
    """A key term as the proposition spells it (terms are lowercased: `ai` → `AI`)."""
    at = proposition.lower().find(term)
    return proposition[at : at + len(term)] if at >= 0 else term
