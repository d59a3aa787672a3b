"""Routing: decide which personas should answer a question, or that nobody addressed it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.ingest.span import SpeechRole
from bot.persona.profile import Persona
from bot.persona.registry import PersonaRegistry
from bot.retrieval.passage import Hit
from bot.retrieval.search import SYNONYMS, Retriever
from bot.retrieval.tokenize import bigrams, tokenize

RouteKind = Literal["named", "who_said", "relevance", "none"]
ALL_ROLES: tuple[SpeechRole, ...] = ("view", "question", "relayed")
_WHO = re.compile(
    r"谁说|是谁|谁提出|谁讲|谁提到|谁认为|谁觉得|谁拿|谁用|出自谁|谁的(?:话|观点|说法)|哪位.{0,12}(?:说|提|讲|认为)"
)
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{4,})[”\"」』]")
_MULTI = re.compile(
    r"大家|各位|几位|他们|哪些人|分别|一致|各自|不同(?:看法|观点)|都怎么看|都是怎么|有哪些人|谁和谁|对比"
)
_WHO_WORDS = re.compile(
    r"这句话|这个说法|这种说法|这话|是谁说的|谁说的|是谁|谁说|谁提出来的|谁提出|的\?|？|\?"
)

WHO_MAX = 3
"""At most this many people are named as having said the same words."""
CONTENDERS = 20
"""Only the personas with the best hits are weighed (keeps routing fast on large corpora)."""
RELEVANT = ((0.45, 0.0), (0.0, 0.46), (0.15, 0.36))
"""(coverage, cosine) floors: a persona addressed the question when it clears any pair. Coverage is the
IDF-weighted share of the question's words in its best passages; cosine is the meaning similarity of
sentence embeddings. Neither alone separates paraphrased questions from unrelated ones."""
NAMED_RELEVANT = ((0.30, 0.0), (0.0, 0.40), (0.10, 0.33))
"""Lower floors for a persona the user named: the name already says whose words are wanted."""
MULTI_SHARE, MULTI_MAX = 0.5, 8
"""A question to several people (`大家怎么看`) is answered by every relevant persona this close to the best."""
CLOSE_SHARE, CLOSE_MAX = 0.6, 4
"""Otherwise up to three more personas answer when this close to the best one."""


@dataclass(frozen=True)
class Evidence:
    """How well one persona's passages match the question."""

    persona: Persona
    hits: tuple[Hit, ...]
    coverage: float
    cosine: float

    @property
    def score(self) -> float:
        """One relevance figure: word coverage and meaning, best hit counted (not a sum)."""
        return 0.6 * self.coverage + 0.4 * max(0.0, self.cosine)

    @property
    def relevant(self) -> bool:
        """Whether this persona actually addressed the question."""
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


def coverage(
    terms: Sequence[str], hits: Sequence[Hit], idf: Callable[[str], float], *, about: str = ""
) -> float:
    """IDF-weighted share of `terms` found in the text of `hits`.

    A term counts fully when it (or a usual synonym) occurs; a longer term whose words are
    segmented differently counts for half the share of its character bigrams that occur. `about`
    (the persona's org and title) counts too: a question about 星河智能 concerns its founder.
    """
    if not terms:
        return 0.0
    text = (about + "".join(h.passage.text for h in hits)).lower()
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
    """Summarise one persona's best hits."""
    best = tuple(sorted(hits, key=lambda h: -h.score)[:3])
    about = f"{persona.org} {persona.title} "
    return Evidence(
        persona, best, coverage(terms, best, idf, about=about), max((h.dense for h in best), default=0.0)
    )


def route(
    question: str, registry: PersonaRegistry, retriever: Retriever, *, named: Sequence[Persona] = ()
) -> Routing:
    """Route a question: explicit names first, then “who said”, then relevance; refuse when nobody fits."""
    terms = content_terms(question, registry)
    mentioned = list(named) or registry.find_mentions(question)
    if _WHO.search(question):
        return who_said(question, registry, retriever)
    if mentioned:
        found = [
            evidence(p, retriever.search(question, personas=[p.id], top_k=6), terms, retriever.idf)
            for p in mentioned
        ]
        chosen = tuple(e for e in found if e.clears(NAMED_RELEVANT))
        declined = tuple(e.persona for e in found if not e.clears(NAMED_RELEVANT))
        return Routing("named" if chosen else "none", chosen, declined)
    hits = retriever.search(question, top_k=80)
    by_persona: dict[str, list[Hit]] = {}
    for hit in hits:  # best first, so the first CONTENDERS personas are those with the best hits
        if hit.passage.persona_id in by_persona or len(by_persona) < CONTENDERS:
            by_persona.setdefault(hit.passage.persona_id, []).append(hit)
    ranked = sorted(
        (evidence(registry.get(pid), items, terms, retriever.idf) for pid, items in by_persona.items()),
        key=lambda e: (-e.score, e.persona.id),
    )
    ranked = [e for e in ranked if e.relevant]
    if not ranked:
        return Routing("none")
    share, most = (MULTI_SHARE, MULTI_MAX) if _MULTI.search(question) else (CLOSE_SHARE, CLOSE_MAX)
    chosen = tuple(e for e in ranked if e.score >= share * ranked[0].score)[:most]
    return Routing("relevance", chosen)


def who_said(question: str, registry: PersonaRegistry, retriever: Retriever) -> Routing:
    """Find who said a phrase: an exact match of the quoted fragment first, else the closest passage."""
    quoted = _QUOTED.search(question)
    fragment = quoted.group(1) if quoted else _WHO_WORDS.sub("", question)
    needle = _normalise(fragment)
    hits = retriever.search(fragment, top_k=40, roles=ALL_ROLES)
    exact: dict[str, list[Hit]] = {}
    for hit in hits if len(needle) >= 4 else ():
        if needle in _normalise(hit.passage.text):
            exact.setdefault(hit.passage.persona_id, []).append(hit)
    terms = content_terms(fragment, registry)
    if exact:
        found = [evidence(registry.get(pid), hits, terms, retriever.idf) for pid, hits in exact.items()]
        return Routing("who_said", tuple(sorted(found, key=lambda e: -e.score))[:WHO_MAX])
    if not hits:
        return Routing("none")
    best = evidence(registry.get(hits[0].passage.persona_id), [hits[0]], terms, retriever.idf)
    return Routing("who_said", (best,)) if best.relevant else Routing("none")


def _normalise(text: str) -> str:
    """Drop punctuation and spaces so `a,b` matches `a，b`."""
    return re.sub(r"[\W_]+", "", text).lower()
