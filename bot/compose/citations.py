"""The citation check for generated text: each sentence must rest on the quote it cites.

The test is measurable and deterministic. Text is split into sentences (`split_claims`);
a `[n]` right after a sentence's end punctuation belongs to that sentence. A sentence's
*content* is its characters without `[n]` markers, punctuation and white space (CJK
characters and letters/digits only, NFKC-normalised, lowercased). Its *support* from a
quote is the share of its distinct character bigrams that also occur in the quote's
content, or 1.0 when the whole content is a substring of the quote's content (`support`).

`verify` keeps a sentence only if at least one quote it cites exists and gives support of
at least `threshold` (0.5 by default); markers of missing or non-supporting quotes are
removed from kept sentences, so every marker left points at a quote that backs its
sentence. A quote does not back a sentence that states a number it lacks (Arabic digits, or
Chinese numerals of two or more characters such as `一千万`), because a changed figure keeps
most bigrams. Uncited sentences are dropped, connectives included. A sentence backed only by
reported quotes (a narrator's paraphrase) that does not say so gets the lead-in `据报道，`.
Kept markers are renumbered 1..k in order of first use.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.compose.answer import CITATION_PATTERN, Citation

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
REPORTED_CUES = ("报道", "据称", "据悉", "转述", "援引")
"""Words that show a sentence presents reported speech as reported."""
_SENTENCE_END = re.compile(
    r"(?:[。！？!?]+|(?<!\d)\.(?!\d)|\.(?=\s|$|\[))[”’」』）)\"']*(?:[ \t]*\[\d+\])*|\n+"
)
_CONTENT = re.compile(r"\w")
_NUMBER = re.compile(r"\d+|[零〇一二两三四五六七八九十百千万亿]+")


@dataclass(frozen=True)
class Verified:
    """Generated text after the check: kept sentences, their renumbered citations, what was dropped."""

    text: str
    citations: tuple[Citation, ...]
    dropped: tuple[str, ...]


def split_claims(text: str) -> list[str]:
    """Split text into sentences, each keeping the `[n]` markers that follow its end punctuation."""
    claims, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        claims.append(text[start : match.end()].strip())
        start = match.end()
    claims.append(text[start:].strip())
    return [claim for claim in claims if claim]


def content(text: str) -> str:
    """Return the text without `[n]` markers, punctuation and white space, lowercased."""
    bare = CITATION_PATTERN.sub("", unicodedata.normalize("NFKC", text))
    return "".join(_CONTENT.findall(bare)).replace("_", "").lower()


def support(sentence: str, quote: str) -> float:
    """Return the share of the sentence's character bigrams found in the quote (1.0 for a substring)."""
    said, source = content(sentence), content(quote)
    if not said:
        return 0.0
    if said in source:
        return 1.0
    bigrams = {said[i : i + 2] for i in range(len(said) - 1)}
    if not bigrams:
        return 0.0
    return sum(bigram in source for bigram in bigrams) / len(bigrams)


def backs(quote: str, sentence: str, *, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Tell whether a quote supports a sentence enough and contains every number it states."""
    stated = {n for n in _NUMBER.findall(content(sentence)) if n.isdigit() or len(n) > 1}
    return support(sentence, quote) >= threshold and stated <= set(_NUMBER.findall(content(quote)))


def verify(text: str, citations: Sequence[Citation], *, threshold: float = DEFAULT_THRESHOLD) -> Verified:
    """Keep the sentences a cited quote supports; drop the rest; renumber the markers used."""
    by_n = {c.n: c for c in citations}
    numbers: dict[int, int] = {}  # old n -> new n, in order of first use
    kept: list[str] = []
    dropped: list[str] = []
    for sentence in split_claims(text):
        cited = list(dict.fromkeys(int(m) for m in CITATION_PATTERN.findall(sentence)))
        backing = [n for n in cited if n in by_n and backs(by_n[n].quote, sentence, threshold=threshold)]
        if not backing:
            reason = "no citation" if not cited else "no cited quote supports it"
            if cited and not any(n in by_n for n in cited):
                reason = f"cites unknown quotes {cited}"
            logger.debug("dropped %r: %s", sentence, reason)
            dropped.append(sentence)
            continue
        for n in backing:
            numbers.setdefault(n, len(numbers) + 1)
        kept.append(_renumber(sentence, numbers, [by_n[n] for n in backing]))
    used = tuple(replace(by_n[old], n=new) for old, new in numbers.items())
    return Verified(text=_join(kept), citations=used, dropped=tuple(dropped))


def _renumber(sentence: str, numbers: dict[int, int], backing: list[Citation]) -> str:
    """Rewrite the backing markers to their new numbers; remove the others and repeats."""
    seen: set[int] = set()

    def marker(match: re.Match[str]) -> str:
        old = int(match.group(1))
        if old not in numbers or old not in {c.n for c in backing} or old in seen:
            return ""
        seen.add(old)
        return f"[{numbers[old]}]"

    sentence = CITATION_PATTERN.sub(marker, sentence)
    if all(c.kind == "reported" for c in backing) and not any(cue in sentence for cue in REPORTED_CUES):
        sentence = f"据报道，{sentence}"
    return sentence


def _join(sentences: list[str]) -> str:
    """Join sentences, with a space only where an ASCII sentence meets ASCII text."""
    text = ""
    for sentence in sentences:
        end = CITATION_PATTERN.sub("", text).rstrip()[-1:]
        gap = " " if end and end.isascii() and sentence[0].isascii() else ""
        text += gap + sentence
    return text
