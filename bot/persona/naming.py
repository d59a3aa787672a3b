"""Spotting a persona's name the way users type it: a homophone typo, pinyin, or English order.

`方寒` for 方汉 (same pinyin), `李开夏` for 李开复 (one character off in a three-character name),
`fang han` or `Kai-Fu Lee` (pinyin, given name first, the surname in a usual romanisation). Exact names
and aliases are matched by the registry itself; this module is its fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import lazy_pinyin

SURNAME_SPELLINGS: dict[str, tuple[str, ...]] = {
    "li": ("lee",),
    "wang": ("wong",),
    "huang": ("wong",),
    "chen": ("chan",),
    "zhang": ("cheung", "chang"),
    "wu": ("ng", "woo"),
    "liu": ("lau",),
    "zhou": ("chow", "chou"),
    "cai": ("tsai", "choi"),
    "he": ("ho",),
    "lin": ("lam",),
    "guo": ("kwok",),
    "xu": ("hsu", "tsui"),
    "zheng": ("cheng",),
    "yang": ("yeung",),
    "zhao": ("chiu",),
    "hu": ("woo",),
    "lu": ("lo",),
    "jiang": ("chiang",),
    "ye": ("yip",),
    "ma": ("mah",),
}
"""Usual non-pinyin spellings of common surnames (Hong Kong, Taiwan, English-language press)."""
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_LATIN_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Spelling:
    """How one Chinese name may be written: its characters and its syllables."""

    name: str
    syllables: tuple[str, ...]

    @property
    def surname(self) -> str:
        """The first syllable (compound surnames are rare enough to treat alike)."""
        return self.syllables[0]

    def latin_forms(self) -> set[tuple[str, ...]]:
        """Word sequences the name may take in Latin letters, lower case."""
        given = self.syllables[1:]
        surnames = (self.surname, *SURNAME_SPELLINGS.get(self.surname, ()))
        forms: set[tuple[str, ...]] = set()
        for surname in surnames:
            for given_form in (("".join(given),), given):
                forms.add((surname, *given_form))
                forms.add((*given_form, surname))
        return forms


@lru_cache(maxsize=4096)
def spelling(name: str) -> Spelling | None:
    """The syllables of a Chinese name of two to four characters; None for other names."""
    if not re.fullmatch(r"[\u4e00-\u9fff]{2,4}", name):
        return None
    return Spelling(name, tuple(lazy_pinyin(name)))


def typo_of(window: str, name: str) -> bool:
    """Whether `window` is `name` typed wrong: a homophone, or one character off in a longer name."""
    if len(window) != len(name) or window == name:
        return False
    if tuple(lazy_pinyin(window)) == tuple(lazy_pinyin(name)):
        return True
    differing = sum(a != b for a, b in zip(window, name, strict=True))
    return len(name) >= 3 and differing == 1 and window[0] == name[0]


def fuzzy_mentions(text: str, names: Iterable[str]) -> list[str]:
    """Return the names that `text` writes with a typo, in pinyin or in English order."""
    found: list[str] = []
    runs = _CJK_RUN.findall(text)
    words = _LATIN_WORD.findall(re.sub(r"[-‐]", " ", text.lower()))
    for name in names:
        shape = spelling(name)
        if shape is None:
            continue
        windows = {run[i : i + len(name)] for run in runs for i in range(len(run) - len(name) + 1)}
        if any(typo_of(window, name) for window in windows):
            found.append(name)
            continue
        if words and any(_contains(words, form) for form in shape.latin_forms()):
            found.append(name)
    return found


def _contains(words: list[str], form: tuple[str, ...]) -> bool:
    """Whether `form` occurs as consecutive words (a two-word form also joined: `fanghan`)."""
    size = len(form)
    if any(tuple(words[i : i + size]) == form for i in range(len(words) - size + 1)):
        return True
    return len(form) == 2 and "".join(form) in words
