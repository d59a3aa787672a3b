"""The citation check for generated text: each sentence must say what the quote it cites says.

The test is measurable and deterministic. Text is split into sentences (`split_claims`); a `[n]`
right after a sentence's end punctuation belongs to that sentence. A sentence's *content* is its
characters without `[n]` markers, punctuation and white space (NFKC-normalised, lowercased).

A sentence is checked clause by clause (clauses end at `，；：` and their ASCII forms). Each clause
is aligned with the clause of a cited quote (or two adjacent ones) that shares most of its character
bigrams, and is kept only when

* its *support*, the share of its distinct bigrams found in that aligned part, is at least
  `threshold` (0.5 by default; 1.0 when the clause is a substring of it);
* it negates as often as the aligned part does, counted in parity (`不能追上` is not backed by
  `能追上`, `我不认为` not by `我认为`; words such as `非常`, `未来`, `不过` do not negate);
* it does not swap a stance or direction word for its opposite (`支持`/`反对`, `领先`/`落后`,
  `上涨`/`下跌`…);

framing clauses (`我认为`, `其实`, `FRAMES`) need no backing of their own. Every number the sentence states must stand in a cited quote with the same
unit after it (`3亿元` does not back `3亿美元`, `5个人，2个博士` does not back `2个人，5个博士`). One
clause that fails drops the whole sentence, so a tail the quote does not contain (`…请加我的私人微信`)
never rides on a faithful first half.

`verify` keeps a sentence only if one quote it cites exists and backs it; markers of missing or
non-backing quotes are removed from kept sentences, so every marker left points at a quote that
backs its sentence. Uncited sentences are dropped, connectives included. A sentence backed only by
reported quotes (a narrator's paraphrase) that does not say so gets the lead-in `据报道，`. Kept
markers are renumbered 1..k in order of first use.
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
_CLAUSE_END = re.compile(r"[，,；;：:]")
_NUMBER = re.compile(
    r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿]{2,})[十百千万亿]*%?|百分之[零〇一二两三四五六七八九十百]+"
)
FRAMES = frozenset(
    "我认为 我觉得 我想 我相信 我看 在我看来 对我来说 我的观点是 我的看法是 其实 所以 但是 不过 因为 因此 另外 "
    "首先 其次 再次 最后 比如 例如 总之 当然 同时 而且 然后 说白了 简单来说 也就是说 换句话说 坦白说 老实说 "
    "我的意思是 具体来说 总的来说 一方面 另一方面 据报道 据称 据悉 有报道称 据媒体报道".split()
)
"""Clauses that only frame a sentence (`我认为，…`) and need no backing of their own."""
NEGATORS = frozenset("不没无非未别勿莫")
NOT_NEGATING = (
    "非常",
    "未来",
    "无论",
    "不过",
    "别人",
    "别的",
    "无数",
    "否则",
    "差不多",
    "是否",
    "能否",
    "可否",
    "无人机",
    "不久",
    "非得",
)
"""Words that hold a negating character and whose paraphrase drops it (`非常` → `很`) without a reversal."""
OPPOSITES = (
    ("支持", "反对"),
    ("赞成", "反对"),
    ("同意", "反对"),
    ("领先", "落后"),
    ("超过", "落后"),
    ("增加", "减少"),
    ("增长", "下降"),
    ("上升", "下降"),
    ("上涨", "下跌"),
    ("提高", "降低"),
    ("扩大", "缩小"),
    ("乐观", "悲观"),
    ("看好", "看空"),
    ("利好", "利空"),
    ("优势", "劣势"),
    ("好处", "坏处"),
    ("成功", "失败"),
    ("容易", "困难"),
    ("盈利", "亏损"),
    ("赚钱", "亏钱"),
    ("开源", "闭源"),
    ("更多", "更少"),
    ("最大", "最小"),
    ("涨价", "降价"),
    ("允许", "禁止"),
    ("鼓励", "禁止"),
    ("正确", "错误"),
    ("必然", "未必"),
    ("一定", "未必"),
    ("买入", "卖出"),
    ("大于", "小于"),
    ("高于", "低于"),
    ("早于", "晚于"),
    ("先进", "落后"),
    ("加速", "放缓"),
)
"""Stance and direction words whose swap reverses a claim while keeping most of its bigrams."""


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
    return _support(content(sentence), content(quote))


def _support(said: str, source: str) -> float:
    if not said:
        return 0.0
    if said in source:
        return 1.0
    bigrams = {said[i : i + 2] for i in range(len(said) - 1)}
    if not bigrams:
        return 0.0
    return sum(bigram in source for bigram in bigrams) / len(bigrams)


def negations(text: str) -> int:
    """Count the negating characters of content text, leaving out those of `NOT_NEGATING` words."""
    count = sum(ch in NEGATORS for ch in text)
    for word in NOT_NEGATING:
        count -= text.count(word) * sum(ch in NEGATORS for ch in word)
    return count


def swaps(said: str, source: str) -> bool:
    """Whether the clause trades a stance word of the source for its opposite (`开源` → `闭源`)."""
    for a, b in OPPOSITES:
        more_a, more_b = said.count(a) - source.count(a), said.count(b) - source.count(b)
        if (more_a > 0 > more_b) or (more_b > 0 > more_a):
            return True
    return False


def _units(quote: str) -> list[str]:
    """The quote's clauses and each pair of adjacent clauses, as content text."""
    clauses = [c for c in (content(part) for part in _CLAUSE_END.split(_plain_sentences(quote))) if c]
    return clauses + [a + b for a, b in zip(clauses, clauses[1:], strict=False)]


def _plain_sentences(text: str) -> str:
    """Text with sentence ends turned into clause ends, so clauses never cross sentences."""
    return re.sub(r"[。！？!?\n]", "，", text)


def _clause_backed(said: str, units: Sequence[str], *, threshold: float) -> bool:
    """Whether a clause (content text) is backed by its best-aligned unit of a quote."""
    if not said:
        return True
    if said in FRAMES:
        return True
    best = max(units, key=lambda unit: _support(said, unit), default="")
    if _support(said, best) < threshold:
        return False
    stated, given = _NUMBER.findall(said), iter(_NUMBER.findall(best))
    in_order = all(number in given for number in stated)  # a subsequence: swapped figures fail
    return in_order and negations(said) % 2 == negations(best) % 2 and not swaps(said, best)


def _numbers(text: str) -> list[str]:
    """Each number the text states with the two characters after it (its unit), on plain text."""
    plain = re.sub(r"\s", "", CITATION_PATTERN.sub("", unicodedata.normalize("NFKC", text))).lower()
    found = []
    for match in _NUMBER.finditer(plain):
        unit = "".join(ch for ch in plain[match.end() : match.end() + 2] if ch.isalnum())
        found.append(match.group() + unit if len(unit) == 2 else match.group())
    return found


def backs(quote: str, sentence: str, *, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Tell whether a quote backs every clause of a sentence and every number it states, with its unit."""
    units = _units(quote)
    clauses = [content(part) for part in _CLAUSE_END.split(CITATION_PATTERN.sub("", sentence))]
    if not any(clauses):
        return False
    plain_quote = re.sub(r"\s", "", unicodedata.normalize("NFKC", quote)).lower()
    numbers_ok = all(number in plain_quote for number in _numbers(sentence))
    return numbers_ok and all(_clause_backed(c, units, threshold=threshold) for c in clauses)


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
