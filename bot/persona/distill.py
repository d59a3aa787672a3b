"""Distilling: turn the attributions of all sources into persona profiles."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import jieba.posseg as pseg

from bot.ingest.span import Attribution, Person, Utterance
from bot.ingest.text import is_question, split_sentences
from bot.persona.profile import Asked, Persona, Quote, Stance, Style, merge_curated, slugify
from bot.retrieval.tokenize import STOPWORDS, add_names

TOPICS = 8
TOPIC_POS = frozenset({"n", "nz", "vn", "nt", "ns", "eng", "an"})
"""Parts of speech a topic may be: nouns, verbal nouns, names of things (not of people)."""
STANCES = 3
CLAIM_MAX = 80
"""A stance's claim is one verbatim sentence of at most this many characters."""
STYLE_MARKERS = tuple(
    "我觉得 我认为 我相信 在我看来 其实 事实上 实际上 总之 所以 首先 第一 一定 我们 大家要相信 说白了 简单来说 再直白一点 我的观点".split()
)


def quote_id(utterance: Utterance) -> str:
    """Return a quote id that stays the same while the span stays the same."""
    digest = hashlib.sha1(f"{utterance.source}:{utterance.start}:{utterance.end}".encode()).hexdigest()
    return f"q-{digest[:8]}"


def build_profiles(
    attributions: Sequence[Attribution],
    texts: Mapping[str, str],
    *,
    existing: Mapping[str, Persona] | None = None,
) -> list[Persona]:
    """Build one persona per person who speaks in the sources, keeping hand-curated fields of `existing`.

    Args:
        attributions: what attribution found, one per source, in source order.
        texts: source id → text, to copy quote text verbatim.
        existing: profiles on disk, by name, whose curated fields survive.
    """
    existing = existing or {}
    utterances: dict[str, list[Utterance]] = defaultdict(list)
    people: dict[str, list[Person]] = defaultdict(list)
    for attribution in attributions:
        for utterance in attribution.utterances:
            utterances[utterance.speaker].append(utterance)
        for name, person in attribution.people.items():
            people[name].append(person)
    add_names(utterances)
    tokens = {name: _view_tokens(items, texts, set(utterances)) for name, items in utterances.items()}
    topics = _topics(tokens)
    taken = {persona.id for persona in existing.values()}
    profiles: list[Persona] = []
    for name in sorted(utterances, key=lambda n: (min((u.source, u.start) for u in utterances[n]), n)):
        old = existing.get(name)
        persona_id = old.id if old else slugify(name, taken=taken)
        taken.add(persona_id)
        quotes = [_quote(u, texts) for u in sorted(utterances[name], key=lambda u: (u.source, u.start))]
        fresh = Persona(
            id=persona_id,
            name=name,
            aliases=sorted({alias for person in people[name] for alias in person.aliases}),
            title=next((p.title for p in people[name] if p.title), ""),
            org=next((p.org for p in people[name] if p.org), ""),
            bio=next((p.bio for p in people[name] if p.bio), ""),
            sources=sorted({u.source for u in utterances[name]}),
            topics=topics[name],
            stances=_stances(topics[name], quotes),
            quotes=quotes,
            style=_style(quotes),
        )
        profiles.append(merge_curated(fresh, old))
    return profiles


def _quote(utterance: Utterance, texts: Mapping[str, str]) -> Quote:
    """Copy an utterance into a quote with its verbatim text (and the question it answers)."""
    text = texts[utterance.source]
    asked = None
    if utterance.question_start is not None and utterance.question_end is not None:
        start, end = utterance.question_start, utterance.question_end
        asked = Asked(start=start, end=end, text=text[start:end])
    return Quote(
        id=quote_id(utterance),
        source=utterance.source,
        start=utterance.start,
        end=utterance.end,
        kind=utterance.kind,
        text=texts[utterance.source][utterance.start : utterance.end],
        role=utterance.role,
        relayed_from=utterance.relayed_from,
        asked=asked,
    )


def _view_tokens(utterances: list[Utterance], texts: Mapping[str, str], names: set[str]) -> list[str]:
    """Nouns of what a person says as their own view (names of people left out)."""
    words: list[str] = []
    for u in utterances:
        if u.role != "view":
            continue
        for word, flag in pseg.lcut(texts[u.source][u.start : u.end]):
            word = word.strip().lower()
            if flag in TOPIC_POS and len(word) >= 2 and word not in STOPWORDS and word not in names:
                words.append(word)
    return words


def _topics(tokens: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Pick each person's most distinctive words (tf-idf across the people)."""
    documents = len(tokens) or 1
    frequency = Counter(word for words in tokens.values() for word in set(words))
    topics: dict[str, list[str]] = {}
    for name, words in tokens.items():
        counts = Counter(words)
        score = {w: c * math.log((documents + 1) / frequency[w]) for w, c in counts.items() if c >= 2}
        topics[name] = [w for w, _ in sorted(score.items(), key=lambda item: (-item[1], item[0]))[:TOPICS]]
    return topics


def _stances(topics: list[str], quotes: list[Quote]) -> list[Stance]:
    """For the top topics, take the person's longest one-line sentence on it as the claim.

    Claims come from the person's own words where there are any; a person known only through
    reports gets claims from reported quotes (rendered as reported wherever they are shown).
    """
    views = [q for q in quotes if q.role == "view"]
    stances: list[Stance] = []
    claimed: set[str] = set()
    for topic in topics:
        on_topic = [q for q in views if topic in q.text.lower()]
        cited = [q for q in on_topic if q.kind == "direct"] or on_topic
        sentences = [
            sentence
            for q in cited
            for s, e in split_sentences(q.text, 0, len(q.text))
            if topic in (sentence := q.text[s:e]).lower()
            and len(sentence) <= CLAIM_MAX
            and "\n" not in sentence
            and not is_question(sentence)
        ]
        fitting = sorted((s for s in sentences if s not in claimed), key=len, reverse=True)
        if fitting:
            claimed.add(fitting[0])
            stances.append(Stance(topic=topic, claim=fitting[0], quotes=[q.id for q in cited[:3]]))
        if len(stances) == STANCES:
            break
    return stances


def _style(quotes: list[Quote]) -> Style:
    """Describe how a person speaks: the register and their habitual phrases."""
    direct = [q.text for q in quotes if q.kind == "direct" and q.role == "view"]
    if not direct:
        return Style(register="转述", phrases=[], notes="只有记者转述，没有本人原话。" if quotes else "")
    joined = "".join(direct)
    counts = Counter({m: joined.count(m) for m in STYLE_MARKERS if joined.count(m) >= 2})
    average = sum(len(s) for s in re.split(r"[。！？!?]", joined) if s) / max(
        1, len(re.findall(r"[。！？!?]", joined))
    )
    register = "长句，论述型" if average > 45 else "短句，口语化"
    return Style(register=register, phrases=[m for m, _ in counts.most_common(3)], notes="")
