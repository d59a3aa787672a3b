"""Markup: the plain reading of a line of Markdown or HTML-ish text, with offsets back into it.

Articles arrive clipped to Markdown: `**李迪华：**`, `![](https://…)`, `[返回列表页](/gzh/…)`,
`<figcaption>…</figcaption>`, `# 标题`, `> 引文`. Cleaning and attribution read the plain text
(`李迪华：`); every span they find is mapped back to the stored text, which is never rewritten, so
quotes stay verbatim at their offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_OPEN_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\s]*$")
"""An image whose URL a clipper broke onto the next line."""
_IMAGE_TAIL = re.compile(r"^[^\s()]*\)")
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>\n]*)?/?>")
_EMPHASIS = re.compile(r"\*{1,3}|_{2,3}|~~")
_LEAD = re.compile(r"^\s*(?:#{1,6}\s+|>\s?|[-+]\s+(?=\S)|\*\s+(?=\S))+")
_MARKUP_CHARS = re.compile(r"[*_~\[\]!<>#\\\-+\u200b\u200c\u200d\u2060\ufeff\xa0]")
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")
_ESCAPE = re.compile(r"\\(?=[*_#\[\]()>~`!|\\-])")
"""A Markdown escape (`\\*头图来源`): the backslash is markup, the character after it text."""


@dataclass(frozen=True)
class Plain:
    """A line's plain text and, for each of its characters, the offset it came from."""

    text: str
    offsets: tuple[int, ...]
    images: int
    """How many images the line held (a line of only images has empty `text`)."""
    open_image: bool = False
    """The line ends inside an image link that the next line closes."""

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the plain text back to the stored text (`end` exclusive)."""
        if start >= end:
            at = (
                self.offsets[start]
                if start < len(self.offsets)
                else (self.offsets[-1] + 1 if self.offsets else 0)
            )
            return at, at
        return self.offsets[start], self.offsets[end - 1] + 1


def plain_line(text: str, base: int = 0, *, continues_image: bool = False) -> Plain:
    """Read one line without its markup; offsets are `base` plus the index into `text`.

    With `continues_image`, the line opens with the rest of an image link the previous line began.
    """
    if not continues_image and not _MARKUP_CHARS.search(text):  # plain already: the common case
        lo = len(text) - len(text.lstrip())
        hi = len(text.rstrip())
        return Plain(text[lo:hi], tuple(range(base + lo, base + hi)), 0)
    keep = [True] * len(text)

    def drop(start: int, end: int) -> None:
        for i in range(start, end):
            keep[i] = False

    images = 0
    if continues_image and (tail := _IMAGE_TAIL.match(text)):
        drop(0, tail.end())
        images += 1
    open_image = _OPEN_IMAGE.search(text)
    if open_image:
        drop(open_image.start(), len(text))
        images += 1
    for match in _IMAGE.finditer(text):
        drop(match.start(), match.end())
        images += 1
    for match in _LINK.finditer(text):
        if keep[match.start()]:
            drop(match.start(), match.start(1))  # `[`
            drop(match.end(1), match.end())  # `](url)`
    for match in _TAG.finditer(text):
        drop(match.start(), match.end())
    escaped = set()
    for match in _ESCAPE.finditer(text):
        drop(match.start(), match.end())
        escaped.add(match.end())
    lead = _LEAD.match(text)
    if lead:
        drop(lead.start(), lead.end())
    for match in _EMPHASIS.finditer(text):
        if match.start() not in escaped:
            drop(match.start(), match.end())
    chars: list[str] = []
    offsets: list[int] = []
    for i, (ch, kept) in enumerate(zip(text, keep, strict=True)):
        if kept and ch not in _INVISIBLE:
            chars.append(" " if ch == "\xa0" else ch)
            offsets.append(base + i)
    # Trim outer white space.
    lo, hi = 0, len(chars)
    while lo < hi and chars[lo].isspace():
        lo += 1
    while hi > lo and chars[hi - 1].isspace():
        hi -= 1
    return Plain("".join(chars[lo:hi]), tuple(offsets[lo:hi]), images, open_image is not None)
