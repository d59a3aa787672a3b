"""Cleaning: mark the spans of a source that are nobody's view (the text is never rewritten)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.ingest.names import looks_like_name
from bot.ingest.span import Span, SpanKind

SENTENCE_END = "。！？!?；;…"
CLOSERS = "”’」』\"')）"
HEADING_MAX = 50
AD_LINE_MAX = 12
"""Brand names and slogans in an ad block are this short."""
"""A line this short that does not end a sentence is a title, heading or label, not speech."""

_HEADING_PREFIX = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+[、.．]|【[^】]*】|[(（]\s*\d+\s*[)）]|Part\s*\d|第[一二三四五六七八九十\d]+[部章节])"
)
_BYLINE = re.compile(
    r"^\s*(?:文\s*[/|｜丨]|作者\s*[/|｜丨:：]|记者\s*[/|｜丨:：]|编辑\s*[/|｜丨:：]|责编|责任编辑|来源\s*[:：]|撰文|采写)"
)
_METADATA = re.compile(
    r"^\s*(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?(?:\s+\d+)?|发布时间.*|阅读\s*\d+.*)\s*$"
)
_SUMMARY = re.compile(r"^\s*(?:摘要|导读|导语)\s*[:：]")
_EDITOR_NOTE = re.compile(r"^\s*[(（].*(?:作者|本文|编者|整理|原标题|转载|来源).*[)）]\s*$")
_DISCLAIMER = re.compile(
    r"免责声明|仅代表作者(?:个人|本人)?(?:观点|看法)|不构成(?:任何)?投资建议|不应被视为投资建议|投资有风险"
)
_COPYRIGHT = re.compile(r"版权声明|版权所有|转载请注明|未经(?:授权|许可)|Copyright|©|侵权.*删除")
_LINK = re.compile(
    r"^\s*(?:友情链接|相关阅读|推荐阅读|延伸阅读|相关文章|原文链接|阅读原文|点击查看|https?://)"
)
_ENGAGEMENT = re.compile(
    r"好文章.{0,8}鼓励|点赞|在看|关注我们|扫码关注|欢迎转发|喜欢(?:这篇|本文)|长按(?:识别|二维码)"
)
_AD = re.compile(
    r"交易所|比特币|币圈|数字货币|加密货币|官网|下载APP|注册(?:送|即送|领取)|开户|优惠码|广告|赞助"
)
_BRACKET = re.compile(r"^\s*【([^】]{1,16})】")
BRACKET_ROLES = frozenset({"记者", "问", "答", "主持人", "Q", "A"})
_BIO_BLOCK = re.compile(r"(?:嘉宾|作者|人物|讲者|演讲者)(?:简介|介绍)|关于作者")


@dataclass(frozen=True)
class Line:
    """One line of a source, with its offsets (the newline excluded, outer white space trimmed)."""

    number: int
    start: int
    end: int
    text: str

    @property
    def blank(self) -> bool:
        """Whether the line holds only white space."""
        return not self.text


def split_lines(text: str) -> list[Line]:
    """Split a text into lines with offsets into it; carriage returns and outer white space are trimmed."""
    lines: list[Line] = []
    pos = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        start = pos + lead
        lines.append(Line(number, start, start + len(stripped), stripped))
        pos += len(raw) + 1
    return lines


def ends_sentence(text: str) -> bool:
    """Whether a text ends like a sentence (closing quotes and brackets after the stop allowed)."""
    body = text.rstrip().rstrip(CLOSERS)
    return bool(body) and body[-1] in SENTENCE_END


def classify_line(line: Line) -> SpanKind | None:
    """Return the boilerplate kind of one line, or None when it may be someone's words."""
    text = line.text
    if not text:
        return None
    short = len(text) <= HEADING_MAX and not ends_sentence(text)
    rules: list[tuple[bool, SpanKind]] = [
        (bool(_DISCLAIMER.search(text)), "disclaimer"),
        (bool(_COPYRIGHT.search(text)), "copyright"),
        (bool(_LINK.search(text)), "link"),
        (bool(_ENGAGEMENT.search(text)) and len(text) <= HEADING_MAX, "engagement"),
        (bool(_METADATA.match(text)), "metadata"),
        (bool(_SUMMARY.match(text)), "summary"),
        (bool(_EDITOR_NOTE.match(text)), "editor_note"),
        (bool(_BYLINE.match(text)) and short, "byline"),
        (short and bool(_AD.search(text)), "ad"),
        (
            short
            or (len(text) <= HEADING_MAX and bool(_HEADING_PREFIX.match(text)) and not _bracket_label(text)),
            "heading",
        ),
    ]
    return next((kind for hit, kind in rules if hit), None)


def _bracket_label(text: str) -> bool:
    """Whether a line opens with a speaker in brackets (`【记者】…`, `【王建国】…`) rather than a heading."""
    match = _BRACKET.match(text)
    return match is not None and (match.group(1) in BRACKET_ROLES or looks_like_name(match.group(1)))


def _runs(lines: list[Line]) -> Iterator[tuple[Line, SpanKind | None]]:
    """Yield each non-blank line with its kind, marking guest-bio blocks and ad clusters."""
    kinds: list[tuple[Line, SpanKind | None]] = []
    in_bio = False
    for line in lines:
        if line.blank:
            continue
        kind = classify_line(line)
        if kind == "heading" and _BIO_BLOCK.search(line.text):
            in_bio = True
        elif in_bio and kind is None:
            kind = "bio"
        kinds.append((line, kind))
    # A run of short label lines that holds an ad is an ad block as a whole (brand names, slogans).
    kinds = [
        (
            line,
            "ad"
            if kind == "heading" and len(line.text) <= AD_LINE_MAX and _in_ad_cluster(kinds, i)
            else kind,
        )
        for i, (line, kind) in enumerate(kinds)
    ]
    # The first heading before any body text is the title.
    for index, (line, kind) in enumerate(kinds):
        if kind is None or kind == "bio":
            break
        if kind == "heading":
            kinds[index] = (line, "title")
            break
    yield from kinds


def _in_ad_cluster(kinds: list[tuple[Line, SpanKind | None]], index: int) -> bool:
    """Whether the short line at `index` sits in a run of short lines next to an ad line."""

    def short(i: int) -> bool:
        if not 0 <= i < len(kinds):
            return False
        return kinds[i][1] == "ad" or (kinds[i][1] == "heading" and len(kinds[i][0].text) <= AD_LINE_MAX)

    lo = index
    while short(lo - 1):
        lo -= 1
    hi = index
    while short(hi + 1):
        hi += 1
    run = kinds[lo : hi + 1]
    ads = sum(1 for _, kind in run if kind == "ad")
    return ads >= 1 and len(run) >= 3 and ads * 3 >= len(run)


def find_boilerplate(text: str) -> list[Span]:
    """Return the spans of `text` that are nobody's view, in text order."""
    return [Span(line.start, line.end, kind) for line, kind in _runs(split_lines(text)) if kind is not None]


def detected_title(text: str) -> str:
    """Return the text of the line cleaning takes for the title, or an empty string."""
    return next((text[s.start : s.end] for s in find_boilerplate(text) if s.kind == "title"), "")
