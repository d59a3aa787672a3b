"""Stance cues: the words that say which way a Chinese sentence leans (`不可能`, `毫无问题` …).

Cues are matched at jieba word boundaries, longest first, so that neutral forms (`能否`, `是不是`,
`不仅` …) and compounds (`没有任何问题`) are read whole and `会` is not read inside `机会`.
"""

from __future__ import annotations

import re

import jieba

_NEUTRAL = (
    "能否 能不能 会不会 是不是 是否 可不可以 有没有 要不要 不管 不论 无论 不光 不仅 不只 不止 不断 不少 "
    "不同 不一样 不太一样 不过 不然 要不然 不得不 只能 差不多 不久 不确定 不停 可能性 不外乎"
)
_POSITIVE_STRONG = (
    "一定 肯定 必然 必将 必定 毫无问题 毫无疑问 没有任何问题 没有问题 没问题 完全可以 完全有可能 "
    "有一定可能 有可能 有机会 有希望 相信 迟早 当然 确实 不亚于 "
    # negations that assert: inevitability and certainty
    "不可逆 不可避免 无可避免 不可阻挡 势不可挡 不可或缺 毋庸置疑 不容置疑 没有别的办法 别无选择"
)
_POSITIVE_WEAK = "能够 能 会 可以 可能 应该 有望 不错"
_NEGATIVE_STRONG = (
    "不可能 几乎不可能 不太可能 没有可能 几乎没有 几乎找不到 绝不是 绝对不是 绝不 根本不 并不是 并不 "
    "不是 没戏 做不到 办不到 追不上 赶不上 不了 不到 不出 不会 不能 不能够 无法 不认为 不愿意 没有 错误 不存在 不行"
)
_NEGATIVE_WEAK = "很难 难说 难以 不太 未必 不一定 恐怕 不够 问号 不大 不容易 没关系 不 没"
_CUE_PATTERNS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"没有[^，,。；;！？!?]{1,8}?可能性?"), -1.0),
    (re.compile(r"可能性(?:几乎|基本上?|微乎其微)?(?:没有|为零|很小|不大)"), -1.0),
    (re.compile(r"(?<![a-z])no(?![a-z])"), -1.0),
    (re.compile(r"(?<![a-z])yes(?![a-z])"), 1.0),
    *((re.compile(re.escape(w)), 0.0) for w in _NEUTRAL.split()),
    *((re.compile(re.escape(w)), 1.0) for w in _POSITIVE_STRONG.split()),
    *((re.compile(re.escape(w)), 0.5) for w in _POSITIVE_WEAK.split()),
    *((re.compile(re.escape(w)), -1.0) for w in _NEGATIVE_STRONG.split()),
    *((re.compile(re.escape(w)), -0.5) for w in _NEGATIVE_WEAK.split()),
)
"""Cue patterns and their polarity (0 for neutral forms read whole so their parts are not cues)."""


def find_cues(text: str) -> list[tuple[str, float, int]]:
    """Return the stance cues of a text as (cue, polarity, start), longest match first.

    A cue must begin and end at word boundaries (jieba), so `会` is not read inside `机会` nor `能`
    inside `能力`.
    """
    lowered = text.lower()
    bounds, at = {0}, 0
    for word in jieba.lcut(text):
        at += len(word)
        bounds.add(at)
    found: list[tuple[int, int, float]] = []
    for pattern, value in _CUE_PATTERNS:
        found += [
            (m.start(), m.end(), value)
            for m in pattern.finditer(lowered)
            if m.start() in bounds and m.end() in bounds
        ]
    taken = [False] * len(text)
    chosen: list[tuple[str, float, int]] = []
    for start, end, value in sorted(found, key=lambda f: (f[0] - f[1], f[0])):
        if not any(taken[start:end]):
            taken[start:end] = [True] * (end - start)
            chosen.append((text[start:end], value, start))
    return sorted(chosen, key=lambda c: c[2])


def is_cue(word: str) -> bool:
    """Whether a word is itself a stance cue (`不出`): it says which way, not what about."""
    return any(cue == word and value for cue, value, _ in find_cues(word))


def polarity(text: str) -> tuple[float, tuple[str, ...], bool]:
    """Return the cue polarity of a clause (-1 … 1), the cues read, and whether any form was read.

    Cue values add up and are clipped: `会` alone is a weak +0.5, `一定` a full +1, `不会` -1.
    The flag is also set by neutral forms (`能否`): such a clause asks rather than affirms.
    """
    cues = find_cues(text)
    total = sum(value for _, value, _ in cues)
    return max(-1.0, min(1.0, total)), tuple(c for c, v, _ in cues if v), bool(cues)
