"""Routing: decide which personas should answer a question, or that nobody addressed it.

Three kinds of question, in this order:

* *named*: the question names personas (`方汉怎么看开源`, a typo `方寒`, `Kai-Fu Lee`). They are
  always the ones asked; a named persona whose passages do not address the question declines
  honestly. `X说了什么` / `X怎么看` / `X的观点` with no topic of its own brings X's main views.
* *who said*: the persona whose words assert the fragment answers; someone who shares the phrase
  while denying it does not.
* otherwise every persona with passages near the question is a candidate, and the fitted scorer
  (`bot.scorer`) gives each a probability from measured features; those over its floor answer,
  best first, and a question no one clears is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.compose.citations import backs
from bot.ingest.span import SpeechRole
from bot.persona.profile import Persona
from bot.persona.registry import PersonaRegistry
from bot.retrieval.passage import Hit
from bot.retrieval.search import SYNONYMS, Retriever
from bot.retrieval.tokenize import bigrams, tokenize
from bot.scorer import Weights, load_weights

RouteKind = Literal["named", "who_said", "relevance", "none"]
ALL_ROLES: tuple[SpeechRole, ...] = ("view", "question", "relayed")
_WHO = re.compile(
    r"谁说|是谁|谁提出|谁讲|谁提到|谁认为|谁觉得|谁拿|谁用|出自谁|谁的(?:话|观点|说法)|哪位.{0,12}(?:说|提|讲|认为)"
    r"|\bwho (?:said|says|thinks|argued|claimed)\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{4,})[”\"」』]")
_MULTI = re.compile(
    r"大家|各位|几位|他们|哪些人|分别|一致|各自|不同(?:看法|观点)|都怎么看|都是怎么|有哪些人|谁和谁|对比"
)
_WHO_WORDS = re.compile(
    r"这句话|这个说法|这种说法|这话|是谁说的|谁说的|是谁|谁说过|谁说|谁提出来的|谁提出|谁讲过|谁提到过|的\?|？|\?"
)
_OVERVIEW = re.compile(
    r"^(?:说了什么|说了啥|讲了什么|讲了啥|聊了什么|聊了啥|谈了什么|怎么看|怎么想|怎么说|有什么观点|有什么看法|的观点|的看法|"
    r"的主要观点|的核心观点|主要观点|核心观点|观点|看法|是怎么想的|有哪些观点|有什么想法|怎么认为|what does .* (?:think|say))"
    r"[？?。!！\s]*$",
    re.IGNORECASE,
)
"""What is left of `方汉说了什么？` once the name is taken out: a request for the persona's main views."""

_FRAME_PAIRS = frozenset(bigrams("什么怎么为什么是不是有没有能不能会不会在哪里主要到底觉得认为怎样如何吗呢"))
"""Character pairs of question framing, left out of the question's pairs."""

WHO_MAX = 3
"""At most this many people are named as having said the same words."""
CONTENDERS = 20
"""Only the personas with the best hits are weighed (keeps routing fast on large corpora)."""
MULTI_MAX, CLOSE_MAX = 8, 4
"""How many personas answer a question to several people (`大家怎么看`), and any other."""
RELEVANT = ((0.45, 0.0), (0.15, 0.86))
"""(coverage, cosine) floors the debate's on-topic test still uses for a passage set (cosines of e5:
unrelated passages reach 0.85, on-topic ones 0.88 and more)."""


@dataclass(frozen=True)
class Evidence:
    """How well one persona's passages match the question."""

    persona: Persona
    hits: tuple[Hit, ...]
    coverage: float
    cosine: float
    probability: float | None = None
    """The scorer's probability that the persona addressed the question (set by `route`)."""
    features: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def score(self) -> float:
        """The route score: the scorer's probability, else word coverage and meaning combined."""
        if self.probability is not None:
            return self.probability
        return 0.6 * self.coverage + 0.4 * max(0.0, self.cosine)

    @property
    def relevant(self) -> bool:
        """Whether these passages address the question (coverage and cosine floors)."""
        return self.clears(RELEVANT)

    def clears(self, floors: Sequence[tuple[float, float]]) -> bool:
        """Whether coverage and cosine clear any of the (coverage, cosine) floor pairs."""
        return any(self.coverage >= cov and self.cosine >= cos for cov, cos in floors)


@dataclass(frozen=True)
class Routing:
    """Who answers, with the evidence behind each, best first."""

    kind: RouteKind
    chosen: tuple[Evidence, ...] = ()
    declined: tuple[Persona, ...] = field(default_factory=tuple)
    """Personas named in the question who said nothing about it."""


def content_terms(question: str, registry: PersonaRegistry) -> list[str]:
    """The question's words that carry its topic (names of personas and question words left out)."""
    names = registry.names
    return [
        t
        for t in dict.fromkeys(tokenize(question))
        if t not in names and len(t) >= 2 or t.isascii() and t.isalnum()
    ]


def coverage(terms: Sequence[str], text: str, idf: Callable[[str], float]) -> float:
    """IDF-weighted share of `terms` found in `text`.

    A term counts fully when it (or a usual synonym) occurs; a longer term whose words are
    segmented differently counts for half the share of its character bigrams that occur.
    """
    if not terms:
        return 0.0
    text = text.lower()
    total = found = 0.0
    for term in terms:
        weight = idf(term)
        total += weight
        if term in text or any(s in text for s in SYNONYMS.get(term, ())):
            found += weight
        elif len(term) >= 3:
            pairs = bigrams(term)
            found += weight * 0.5 * sum(p in text for p in pairs) / max(1, len(pairs))
    return found / total


def evidence(
    persona: Persona, hits: Sequence[Hit], terms: Sequence[str], idf: Callable[[str], float]
) -> Evidence:
    """Summarise one persona's best hits (their own words only count towards coverage)."""
    best = tuple(sorted(hits, key=lambda h: -h.score)[:3])
    text = "".join(h.passage.text for h in best)
    return Evidence(persona, best, coverage(terms, text, idf), max((h.dense for h in best), default=0.0))


def route(
    question: str,
    registry: PersonaRegistry,
    retriever: Retriever,
    *,
    named: Sequence[Persona] = (),
    weights: Weights | None = None,
) -> Routing:
    """Route a question: named personas first, then “who said”, then the scorer; refuse when nobody fits."""
    weights = weights or load_weights()
    terms = content_terms(question, registry)
    mentioned = list(named) or registry.find_named(question)
    if asks_who(question) and not named:
        return who_said(question, registry, retriever, weights=weights)
    if mentioned:
        return _named(question, mentioned, terms, registry, retriever, weights)
    if not terms:
        return Routing("none")  # `你好`, `在吗`: no topic at all
    ranked = score_candidates(question, terms, registry, retriever, weights)
    chosen = [e for e in ranked if e.score >= weights.threshold]
    if not chosen:
        return Routing("none")
    most = MULTI_MAX if _MULTI.search(question) else CLOSE_MAX
    chosen = [e for e in chosen if e.score >= weights.share * chosen[0].score][:most]
    return Routing("relevance", tuple(chosen))


def score_candidates(
    question: str,
    terms: Sequence[str],
    registry: PersonaRegistry,
    retriever: Retriever,
    weights: Weights,
    *,
    personas: Sequence[Persona] = (),
    who: bool = False,
    fragment: str = "",
) -> list[Evidence]:
    """Score the personas with the best passages (or the given ones), best first."""
    ids = [p.id for p in personas]
    hits = retriever.search(question, top_k=80, personas=ids, roles=ALL_ROLES if who else ("view",))
    by_persona: dict[str, list[Hit]] = {}
    for hit in hits:  # best first, so the first CONTENDERS personas are those with the best hits
        if hit.passage.persona_id in by_persona or len(by_persona) < CONTENDERS:
            by_persona.setdefault(hit.passage.persona_id, []).append(hit)
    unseen = [t for t in terms if not retriever.seen(t) and not any(retriever.seen(s) for s in SYNONYMS.get(t, ()))]
    weight = sum(retriever.idf(t) for t in terms) or 1.0
    unseen_share = sum(retriever.idf(t) for t in unseen) / weight
    found = [evidence(registry.get(pid), items, terms, retriever.idf) for pid, items in by_persona.items()]
    if not found:
        return []
    top_sparse = max((h.sparse for e in found for h in e.hits), default=0.0) or 1.0
    named_ids = {p.id for p in registry.find_named(question)}
    needle = _normalise(fragment)
    letters = [ch for ch in question if ch.isalpha()]
    latin = sum(ch.isascii() for ch in letters) / len(letters) if letters else 0.0
    scored = []
    question_pairs = {b for t in terms for b in bigrams(t)} | {b for b in bigrams(question) if b not in _FRAME_PAIRS}
    best_sparse = {e.persona.id: max((h.sparse for h in e.hits), default=0.0) / top_sparse for e in found}
    for rank, e in enumerate(found, start=1):
        sparse = best_sparse[e.persona.id]
        text = "".join(h.passage.text for h in e.hits)
        pair_share = sum(b in text for b in question_pairs) / len(question_pairs) if question_pairs else 0.0
        about = coverage(terms, f"{e.persona.name} {e.persona.org} {e.persona.title}", retriever.idf)
        exact = (
            bool(needle) and len(needle) >= 4 and any(needle in _normalise(h.passage.text) for h in e.hits)
        )
        features = {
            "dense": e.cosine,
            "dense_gap": e.cosine - max((o.cosine for o in found if o is not e), default=0.0),
            "sparse_gap": sparse - max((best_sparse[o.persona.id] for o in found if o is not e), default=0.0),
            "sparse": sparse,
            "coverage": e.coverage,
            "about": about,
            "rank": 1.0 / rank,
            "named": float(e.persona.id in named_ids),
            "terms": math.log1p(len(terms)),
            "who": float(who),
            "exact": float(exact),
            "latin": latin,
            "unseen": unseen_share,
            "pairs": pair_share,
        }
        scored.append(replace(e, probability=weights.probability(features), features=features))
    return sorted(scored, key=lambda e: (-e.score, e.persona.id))


def _named(
    question: str,
    mentioned: Sequence[Persona],
    terms: Sequence[str],
    registry: PersonaRegistry,
    retriever: Retriever,
    weights: Weights,
) -> Routing:
    """The named personas answer; one whose words do not address the question declines."""
    rest = question
    for persona in mentioned:
        for name in (persona.name, *persona.aliases):
            rest = rest.replace(name, "")
    overview = not terms or bool(_OVERVIEW.match(rest.strip(" ，,：:")))
    chosen: list[Evidence] = []
    declined: list[Persona] = []
    for persona in mentioned:
        if overview:
            hits = _main_views(persona, retriever, question)
            if hits:
                chosen.append(Evidence(persona, hits, 1.0, max(h.dense for h in hits), probability=1.0))
                continue
        scored = score_candidates(question, terms, registry, retriever, weights, personas=[persona])
        if scored and scored[0].score >= weights.named_threshold:
            chosen.append(scored[0])
        else:
            declined.append(persona)
    return Routing("named" if chosen else "none", tuple(chosen), tuple(declined))


def _main_views(persona: Persona, retriever: Retriever, question: str) -> tuple[Hit, ...]:
    """A persona's main views: passages of its stance quotes first, then its best passages."""
    stance_quotes = [quote_id for stance in persona.stances for quote_id in stance.quotes]
    hits = retriever.search(question, top_k=40, personas=[persona.id])
    order = {quote_id: i for i, quote_id in enumerate(dict.fromkeys(stance_quotes))}
    ranked = sorted(hits, key=lambda h: (order.get(h.passage.quote_id, len(order)), -h.score))
    return tuple(ranked[:3])


def asks_who(question: str) -> bool:
    """Whether a question asks who said something."""
    return bool(_WHO.search(question))


def who_fragment(question: str) -> str:
    """The claim a "who said" question is about: its “quoted” words, else the question without its framing."""
    quoted = _QUOTED.search(question)
    return quoted.group(1) if quoted else _WHO_WORDS.sub("", question).strip(" ，,：:")


def who_said(
    question: str, registry: PersonaRegistry, retriever: Retriever, *, weights: Weights | None = None
) -> Routing:
    """Find who asserted a claim: its exact words first, else the closest passage that does not deny it."""
    weights = weights or load_weights()
    fragment = who_fragment(question)
    terms = content_terms(fragment, registry)
    scored = score_candidates(fragment, terms, registry, retriever, weights, who=True, fragment=fragment)
    exact = [e for e in scored if e.features.get("exact")]
    if exact:
        return Routing("who_said", tuple(exact[:WHO_MAX]))
    asserting = [e for e in scored if not _denies(e, fragment)]
    if asserting and asserting[0].score >= weights.threshold:
        return Routing("who_said", (asserting[0],))
    return Routing("none")


def _denies(found: Evidence, claim: str) -> bool:
    """Whether a persona's passage nearest the claim negates it (`我不愿意用弯道超车` against `要弯道超车`).

    Read with the citation check: the claim's clauses aligned with the passage must not differ in
    negation or swap a stance word; a passage that merely shares few words denies nothing.
    """
    if not found.hits:
        return False
    text = found.hits[0].passage.text
    return not backs(text, claim, threshold=0.3) and _shares_words(text, claim)


def _shares_words(text: str, claim: str) -> bool:
    """Whether a passage and a claim share at least half of the claim's character bigrams."""
    pairs = set(bigrams(claim))
    return bool(pairs) and sum(p in text for p in pairs) * 2 >= len(pairs)


def _normalise(text: str) -> str:
    """Drop punctuation and spaces so `a,b` matches `a，b`."""
    return re.sub(r"[\W_]+", "", text).lower()
