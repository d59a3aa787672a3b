"""The claim: a proposition read for stance analysis (key terms, sign, superlative frame)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.debate.cue import find_cues, is_cue
from bot.persona.registry import PersonaRegistry
from bot.retrieval.search import SYNONYMS
from bot.retrieval.tokenize import bigrams
from bot.router import content_terms

SUPERLATIVE = re.compile(r"最(?!终|后|近|初|早|晚|少|多)|首要|首先|头号")
"""Words that single one thing out (`最大`, `最有挑战`, `首先` as in `障碍首先是数据`); not `最终`, `最近`…"""
_SUPERLATIVE_CLAIM = re.compile(
    r"(最(?:大|主要|核心|关键|重要|严重|根本|难|痛)|首要|头号)的?([\u4e00-\u9fff]{2})"
)
KIN: tuple[frozenset[str], ...] = (
    frozenset("障碍 壁垒 瓶颈 门槛 难点 难题 挑战 短板 卡点 痛点 困难 阻碍 制约 问题".split()),
    frozenset("优势 长板 机会 机遇 红利 强项".split()),
    frozenset("动力 驱动力 推动力 引擎 动因".split()),
    frozenset("风险 威胁 隐患 危险".split()),
)
"""Predicate nouns that name the same kind of thing in a superlative claim."""


@dataclass(frozen=True)
class Claim:
    """The proposition as the classifier reads it."""

    text: str
    terms: tuple[str, ...]
    idf: Mapping[str, float]
    sign: int
    """+1 for an assertion, -1 when the proposition is itself a denial."""
    head: str = ""
    """Predicate noun of a superlative claim (`障碍` in `X是最大的障碍`), else empty."""
    kin: frozenset[str] = frozenset()
    """Words naming the same kind of thing as `head`."""
    subject: tuple[str, ...] = ()
    """Key terms of the thing a superlative claim singles out."""
    core: str = ""
    """The statement's content characters without framing (`我认为`…): what a clause restating it holds."""

    def matches(self, term: str, text: str) -> float:
        """Return how far `term` occurs in `text`: 1 found (or a synonym or kin word), a share of bigrams, or 0."""
        if term in text or any(s in text for s in SYNONYMS.get(term, ())):
            return 1.0
        if SUPERLATIVE.match(term) and SUPERLATIVE.search(text):
            return 1.0
        if self.head and term == self.head and any(k in text for k in self.kin):
            return 1.0
        if len(term) >= 3:
            pairs = bigrams(term)
            return 0.5 * sum(p in text for p in pairs) / max(1, len(pairs))
        return 0.0

    def coverage(self, text: str) -> float:
        """IDF-weighted share of the key terms found in `text`."""
        text = text.lower()
        total = sum(self.idf[t] for t in self.terms)
        if not total:
            return 0.0
        return sum(self.idf[t] * self.matches(t, text) for t in self.terms) / total

    def names_subject(self, text: str) -> bool:
        """Whether `text` names the subject of a superlative claim."""
        text = text.lower()
        return any(self.matches(t, text) >= 1.0 for t in self.subject)


_QUESTION_FORMS = (
    (re.compile(r"有没有"), "有"),
    (re.compile(r"是不是"), "是"),
    (re.compile(r"能不能"), "能"),
    (re.compile(r"会不会"), "会"),
    (re.compile(r"要不要"), "要"),
    (re.compile(r"该不该"), "该"),
    (re.compile(r"可不可以"), "可以"),
    (re.compile(r"是否"), ""),
    (re.compile(r"能否"), "能"),
)
_ASKING_END = re.compile(r"(?:吗|呢|么|嘛)?[？?。！!\s]*$")


def statement_of(proposition: str) -> str:
    """The statement a proposition asks about: `创业公司还有没有机会…？` → `创业公司还有机会…`."""
    text = proposition.strip()
    for pattern, replacement in _QUESTION_FORMS:
        text = pattern.sub(replacement, text, count=1)
    return _ASKING_END.sub("", text) or proposition.strip()


def read_claim(proposition: str, registry: PersonaRegistry, idf: Callable[[str], float]) -> Claim:
    """Analyse the proposition (read as a statement): key terms, sign, and the parts of a superlative claim."""
    proposition = statement_of(proposition)
    terms = tuple(t for t in content_terms(proposition, registry) if not is_cue(t))
    weights = {t: idf(t) for t in terms}
    cues = [value for cue, value, at in find_cues(proposition) if value and not _modifies(proposition, at + len(cue))]
    sign = -1 if sum(1 for v in cues if v < 0) > sum(1 for v in cues if v > 0) else 1
    core = _core(proposition)
    match = _SUPERLATIVE_CLAIM.search(proposition)
    if not match:
        return Claim(proposition, terms, weights, sign, core=core)
    head = match.group(2)
    kin = next((k for k in KIN if head in k), frozenset({head}))
    before = proposition[: match.start()]
    subject_text = before[: before.rfind("是")] if "是" in before else before
    subject = tuple(t for t in terms if t in subject_text.lower() and not SUPERLATIVE.match(t) and t != head)
    return Claim(proposition, terms, weights, sign, head=head, kin=kin | {head}, subject=subject, core=core)


_MODIFIER = re.compile(r"[^，,。；;的]{0,6}的[^，,。；;]*?(?:就是|是|会|能|应该|更)")


def _modifies(proposition: str, end: int) -> bool:
    """Whether a cue ending at `end` sits in a modifier of the subject (`没犯过错误的干部就是…`), not the predicate."""
    return bool(_MODIFIER.match(proposition, end))


_FRAMING = re.compile(r"^(?:我?认为|我?觉得|我?相信|其实|说到底)|应该|必须")


def _core(statement: str) -> str:
    """The statement's characters that a restating clause shares: its content, framing words left out."""
    from bot.compose.citations import content

    return content(_FRAMING.sub("", statement))
