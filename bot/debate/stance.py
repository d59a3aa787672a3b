"""Stance: which side of a proposition each persona's own words take, by cue analysis.

The method is offline, deterministic and measured by `panelbot eval` (debate sides):

Cue words live in `cue`, the reading of the proposition in `claim`, the question each answer
replies to in `prompt`.

1. **Claim.** The proposition's content words (`router.content_terms`, cue words left out) are its
   key terms, weighted by IDF. Its sign is negative when it is itself a denial (`中国AI不可能…`).
   A superlative claim (`X是最大的障碍`) also records its predicate (`障碍`, with kin words such as
   `壁垒`, `瓶颈`, `短板`) and its subject (the key terms before `是`).
2. **Evidence.** Each persona's own views (role `view`) retrieved for the proposition, for the
   predicate of a superlative claim, and every passage of a turn that answers an on-topic
   question (the question line right before the turn: an answer is about what it answers). A
   persona addressed the proposition when the router's relevance test passes on its best hits
   (kin words and the questions it answered counted), when it answered an on-topic question, or
   when it names what is the biggest such thing in a passage on the topic.
3. **Clauses.** Passages are cut at commas and sentence ends. A clause weighs the IDF-weighted
   share of key terms it holds (usual synonyms count). A short cue clause refers back to the
   clause before it (`…能否搞出一个OpenAI，答案基本上是No`) and weighs at least `INHERIT` of it.
   The first words of an answer to an on-topic yes/no question weigh at least `PROMPT_SHARE` of
   that question's coverage, and its first verdict (`有一定可能`) counts double.
4. **Polarity.** Negation and doubt cues (`不可能`, `几乎没有`, `绝不是`, `No`, `很难`, `难说` …)
   against affirmation cues (`一定`, `肯定`, `毫无问题`, `有机会`, and negations that assert such as
   `不可逆`), matched at jieba word boundaries and longest first, so that neutral forms (`能否`,
   `是不是`, `不仅` …) and compounds (`没有任何问题`) are read whole and `会` is not read inside
   `机会`. Cue values add up and are clipped to -1…1 (`会` alone is a weak +0.5). A clause that
   restates much of the claim without any cue affirms it; a question takes no side.
   For a superlative claim only clauses naming its predicate count: with the subject in the clause
   or the one before it they affirm (`这里头的障碍首先是数据`), with a superlative and another
   subject they contradict (`最主要的壁垒是训练成本`); a negation turns either around.
5. **Stance.** Pro and con mass: the sum of weight² × polarity, the strongest clause and the first
   verdict counting double. `lean = (pro − con) / (pro + con)`: pro at `SIDE_LEAN` or more, con at
   `-SIDE_LEAN` or less, neutral otherwise or with less evidence than `MIN_MASS`; a side taken
   with a lean under `PARTIAL_LEAN` is partial (the words also hold the other view).

Known limits: negating the opposite (`我不认为这是巨头的游戏`) or an adverse predicate stated
without its word (`程序员不太需要了` for `会失业`) reads as denial; the cue lists are Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from bot.compose.citations import content, negations, swaps
from bot.debate.claim import SUPERLATIVE, Claim, read_claim
from bot.debate.cue import polarity
from bot.debate.prompt import POLAR, Turns, is_host, turns_of
from bot.ingest.text import is_question, split_sentences
from bot.persona.profile import Persona
from bot.persona.registry import PersonaRegistry
from bot.retrieval.chunk import passages_of
from bot.retrieval.passage import Hit, Passage
from bot.retrieval.search import Retriever
from bot.router import evidence

Stance = Literal["pro", "con", "neutral"]

SIDE_LEAN = 0.1
"""A persona takes a side when its evidence leans at least this far (pro − con over pro + con)."""
PARTIAL_LEAN = 0.5
"""A side taken with a lean below this is partial: the persona's words also hold the other view."""
MIN_MASS = 0.05
"""Less weighted cue evidence than this is no position at all (the persona only touched the topic)."""
AFFIRM_COVERAGE = 0.5
"""A clause holding this share of the claim's key terms, without any cue, restates (affirms) it."""
INHERIT = 0.8
"""A cue clause weighs at least this share of the clause before it in the same sentence."""
ANAPHOR_CHARS = 16
"""A cue clause this short (`答案基本上是No`) is taken to refer back to the clause before it."""
PROMPT_SHARE = 0.5
"""Clauses of a turn answering an on-topic question weigh at least this share of its coverage."""
PROMPT_ON_TOPIC = 0.4
"""A question covering this share of the key terms is a question about the proposition."""
FRAMED_RELEVANT = 0.2
"""A superlative answer (`最主要的壁垒是…`) in a passage holding this share of the key terms is relevant."""
EVIDENCE_HITS = 8
"""Passages retrieved per persona and query."""
CONTENDERS = 24
"""Only the personas with the best hits for the proposition are weighed (large corpora)."""

_CLAUSE_END = re.compile(r"[，,；;：:。！？!?…\n]+")


@dataclass(frozen=True)
class Clause:
    """One clause of a persona's passage, weighed against the claim."""

    passage: Passage
    start: int
    end: int
    """Offsets into `passage.text`."""
    weight: float
    polarity: float
    """-1 … 1 toward the proposition (sign of the claim applied); 0 without evidence."""
    cues: tuple[str, ...] = ()
    verdict: bool = False
    """The first verdict of an answer to a question about the proposition."""
    framed: bool = False
    """Read through a superlative claim's frame (names its predicate)."""

    @property
    def text(self) -> str:
        """The clause's words."""
        return self.passage.text[self.start : self.end]


@dataclass(frozen=True)
class Position:
    """Where one persona stands on the proposition, with the evidence behind it."""

    persona: Persona
    stance: Stance
    lean: float
    """(pro − con) / (pro + con) of the weighted clause evidence; 0 without evidence."""
    pro: float
    con: float
    relevant: bool
    """Whether the persona addressed the proposition (the router's relevance test)."""
    hits: tuple[Hit, ...] = ()
    clauses: tuple[Clause, ...] = ()
    partial: bool = False
    """Its words hold both views; it takes a side only by a lean (or to give an empty side a voice)."""
    topicality: float = 0.0
    """Weight of its heaviest clause: how directly it spoke to the proposition."""

    @property
    def mass(self) -> float:
        """All weighted cue evidence."""
        return self.pro + self.con

    def support(self, passage: Passage, stance: Stance) -> float:
        """How strongly one passage backs `stance`: its best clause's weight × polarity that way.

        For a neutral stance, its heaviest clause's weight (how close it comes to the topic).
        """
        best = 0.0
        for clause in self.clauses:
            if clause.passage.id != passage.id:
                continue
            sign = {"pro": 1.0, "con": -1.0}.get(stance)
            best = max(best, clause.weight * (sign * clause.polarity if sign else 1.0))
        return best

    def passages(self) -> list[Passage]:
        """Its evidence passages, those that back its stance best first, then by retrieval rank."""
        order = {h.passage.id: i for i, h in enumerate(self.hits)}
        unique = {h.passage.id: h.passage for h in self.hits}
        for clause in self.clauses:
            unique.setdefault(clause.passage.id, clause.passage)
        return sorted(
            unique.values(),
            key=lambda p: (-self.support(p, self.stance), -self.support(p, "neutral"), order.get(p.id, 999)),
        )


def clauses_of(passage: Passage, claim: Claim, *, floor: float = 0.0, opening: bool = False) -> list[Clause]:
    """Cut a passage into clauses and weigh each against the claim.

    Args:
        passage: one of the persona's view passages.
        claim: the proposition.
        floor: least weight of a clause (from the question its turn answers).
        opening: the passage opens an answer to an on-topic question; its first verdict counts double.
    """
    clauses: list[Clause] = []
    verdict_given = not opening
    for s_start, s_end in split_sentences(passage.text, 0, len(passage.text)):
        sentence = passage.text[s_start:s_end]
        asking = is_question(sentence)  # a question takes no side, whatever words it holds
        previous = 0.0
        before = ""
        spans = _clause_spans(sentence)
        for i, (c_start, c_end) in enumerate(spans):
            words = sentence[c_start:c_end]
            context, before = before + "，" + words, words
            own = claim.coverage(words)
            value, cues, read = polarity(words)
            frame = _frame(words, context, claim)
            aligned = aligned_polarity(words, claim)
            if aligned is not None and i + 1 < len(spans) and spans[i + 1][1] - spans[i + 1][0] <= ANAPHOR_CHARS:
                # `五年内追上英伟达，基本上不可能`: a short verdict after the restatement is its predicate
                verdict_words = sentence[spans[i + 1][0] : spans[i + 1][1]]
                aligned = aligned_polarity(words + "，" + verdict_words, claim) or aligned
            if asking:
                value, cues, frame = 0.0, (), 0.0
            elif frame:
                value = frame * (-1.0 if value < 0 else 1.0)
            elif aligned is not None:
                value, own = aligned
            elif not read and own >= AFFIRM_COVERAGE and claim.sign > 0:
                value = 0.5
            else:
                value *= claim.sign
            if frame:  # the frame ties the predicate in this clause to a subject in it or just before it
                own = max(own, claim.coverage(context))
            refers_back = bool(value) and c_end - c_start <= ANAPHOR_CHARS
            weight = max(own, floor, INHERIT * previous if refers_back else 0.0)
            verdict = bool(value) and not verdict_given and bool(cues)
            verdict_given = verdict_given or verdict
            clauses.append(
                Clause(
                    passage,
                    s_start + c_start,
                    s_start + c_end,
                    weight,
                    value,
                    cues,
                    verdict=verdict,
                    framed=bool(frame),
                )
            )
            previous = max(own, previous * INHERIT)
    return clauses


ALIGNED = 0.35
"""A clause holding this share of the proposition's character pairs restates it, for or against."""
HEDGES = re.compile(r"如果|假如|除非|取决于|看情况|一定程度|某种程度|部分|也许|或许|有待|还不好说")
"""Words that make a clause conditional or partial: it leans, but it does not take a side outright."""


def aligned_polarity(clause: str, claim: Claim) -> tuple[float, float] | None:
    """Read a clause that restates the proposition: (polarity toward it, how much of it the clause holds).

    Its negations are compared with the proposition's, in parity, so that `并不适用于大多数场景`
    denies `适用于大多数场景` and `我不认为这是巨头的游戏` denies `这是巨头的游戏` but affirms
    `这不是巨头的游戏`; a swapped stance word (`支持`/`反对`) turns it round; a hedge halves it.
    None when the clause does not restate the proposition.
    """
    said, core = content(clause), claim.core
    if not core or not said:
        return None
    pairs = {core[i : i + 2] for i in range(len(core) - 1)}
    share = sum(pair in said for pair in pairs) / len(pairs) if pairs else 0.0
    if share < ALIGNED:
        return None
    same = _denial(said, clause) == _denial(core, claim.text)
    value = 1.0 if same else -1.0
    if swaps(said, core):
        value = -value
    if HEDGES.search(clause):
        value *= 0.5
    return value, share


def _denial(chars: str, text: str) -> int:
    """1 when a text denies (an odd number of negations, or a doubt with none: `可能性很小`, `很难`), else 0."""
    count = negations(chars)
    if count == 0 and polarity(text)[0] < 0:
        return 1
    return count % 2


def _clause_spans(sentence: str) -> list[tuple[int, int]]:
    """Split a sentence at commas, colons and stops (offsets into it)."""
    spans, start = [], 0
    for match in _CLAUSE_END.finditer(sentence):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(sentence):
        spans.append((start, len(sentence)))
    return spans


def _frame(clause: str, context: str, claim: Claim) -> float:
    """Polarity from a superlative claim's frame: same subject affirms, another superlative subject denies.

    `context` is the clause with the one before it (`…大量高质量的数据作为支撑，这对国内来说是一个短板`).
    """
    if not claim.head or not any(k in clause for k in claim.kin):
        return 0.0
    superlative = bool(SUPERLATIVE.search(clause))
    if claim.names_subject(context):
        return 1.0 if superlative else 0.5
    return -1.0 if superlative else 0.0


def contenders(proposition: str, registry: PersonaRegistry, retriever: Retriever) -> list[Persona]:
    """The non-host personas with the best hits for the proposition, at most `CONTENDERS`."""
    if len(registry) <= CONTENDERS:
        return [p for p in registry if not is_host(p)]
    seen: dict[str, None] = {}
    for hit in retriever.search(proposition, top_k=120):
        seen.setdefault(hit.passage.persona_id)
    personas = [registry.get(pid) for pid in seen]
    return [p for p in personas if not is_host(p)][:CONTENDERS]


def place(
    persona: Persona,
    claim: Claim,
    retriever: Retriever,
    texts: Mapping[str, str],
) -> Position:
    """Classify one persona's stance on the claim from its own retrieved views."""
    hits = _merge(
        retriever.search(claim.text, top_k=EVIDENCE_HITS, personas=[persona.id]),
        retriever.search(_predicate_query(claim), top_k=EVIDENCE_HITS, personas=[persona.id])
        if claim.head
        else [],
    )
    turns = turns_of(persona, texts)
    on_topic = {
        qid: cov
        for qid, prompt in turns.prompts.items()
        if (cov := claim.coverage(prompt)) >= PROMPT_ON_TOPIC
    }
    answered = [
        Hit(p, 0.0)
        for p in passages_of([persona])
        if p.quote_id in on_topic and p.role == "view" and p.id not in {h.passage.id for h in hits}
    ]
    relevant = bool(answered) or _addressed(persona, hits, claim, retriever, turns)
    all_hits = tuple(hits) + tuple(answered)
    clauses: list[Clause] = []
    for hit in all_hits:
        p = hit.passage
        # Only the first words of an answer to a yes/no question about the proposition are its verdict.
        opening = (
            p.quote_id in turns.openings
            and p.quote_id in on_topic
            and _first_of_quote(p)
            and bool(POLAR.search(turns.prompts[p.quote_id]))
        )
        floor = PROMPT_SHARE * on_topic[p.quote_id] if opening else 0.0
        clauses += clauses_of(p, claim, floor=floor, opening=opening)
    # Naming what is the biggest (obstacle…) in a passage on the topic answers a superlative claim.
    relevant = relevant or any(
        c.framed and abs(c.polarity) >= 1 and claim.coverage(c.passage.text) >= FRAMED_RELEVANT
        for c in clauses
    )
    return _position(persona, claim, clauses, all_hits, relevant=relevant)


def _addressed(
    persona: Persona, hits: Sequence[Hit], claim: Claim, retriever: Retriever, turns: Turns
) -> bool:
    """The router's relevance test, with the claim's kin words and the questions answered counted."""
    plain = evidence(persona, hits, claim.terms, retriever.idf)
    if plain.relevant:
        return True
    prompts = " ".join(dict.fromkeys(turns.prompts.get(h.passage.quote_id, "") for h in plain.hits))
    text = f"{persona.org} {persona.title} {prompts} " + "".join(h.passage.text for h in plain.hits)
    return replace(plain, coverage=claim.coverage(text)).relevant


def _first_of_quote(passage: Passage) -> bool:
    """Whether the passage is the first window of its quote (its id ends in `:0`)."""
    return passage.id.endswith(":0")


def _predicate_query(claim: Claim) -> str:
    """A query for the predicate of a superlative claim: `最大的障碍 最主要的壁垒 …`."""
    return " ".join(f"最主要的{k}" for k in sorted(claim.kin))


def _merge(*rankings: Sequence[Hit]) -> list[Hit]:
    """Interleave hit lists without repeating a passage."""
    merged: dict[str, Hit] = {}
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking):
                merged.setdefault(ranking[rank].passage.id, ranking[rank])
    return list(merged.values())


def _position(
    persona: Persona, claim: Claim, clauses: Sequence[Clause], hits: Sequence[Hit], *, relevant: bool
) -> Position:
    """Weigh the clauses into a stance."""
    # A superlative claim (`X是最大的障碍`) is decided only by what a persona names as the biggest
    # (or an) obstacle; negations elsewhere (`数据无法生成`) describe the problem, not a side.
    counted = [c if c.framed or not claim.head else replace(c, polarity=0.0) for c in clauses]
    scored = [c for c in counted if c.polarity]
    strongest = max(scored, key=lambda c: c.weight * abs(c.polarity), default=None)
    pro = con = 0.0
    for clause in scored:
        weight = clause.weight**2 * (2.0 if clause is strongest else 1.0) * (2.0 if clause.verdict else 1.0)
        if clause.polarity > 0:
            pro += weight * clause.polarity
        else:
            con -= weight * clause.polarity
    lean = (pro - con) / (pro + con) if pro + con else 0.0
    stance: Stance = "neutral"
    if pro + con >= MIN_MASS and relevant:
        stance = "pro" if lean >= SIDE_LEAN else "con" if lean <= -SIDE_LEAN else "neutral"
    return Position(
        persona,
        stance,
        lean,
        pro,
        con,
        relevant,
        tuple(hits),
        tuple(counted),
        partial=stance != "neutral" and abs(lean) < PARTIAL_LEAN,
        topicality=max((c.weight for c in counted), default=0.0),
    )


def classify(
    proposition: str,
    registry: PersonaRegistry,
    retriever: Retriever,
    texts: Mapping[str, str],
    *,
    personas: Iterable[Persona] | None = None,
) -> list[Position]:
    """Place every contender (or the given personas) on the proposition; strongest positions first."""
    claim = read_claim(proposition, registry, retriever.idf)
    chosen = list(personas) if personas is not None else contenders(proposition, registry, retriever)
    positions = [place(p, claim, retriever, texts) for p in chosen]
    if personas is not None:
        return positions
    return sorted(positions, key=lambda p: (-p.mass * abs(p.lean), p.persona.id))
