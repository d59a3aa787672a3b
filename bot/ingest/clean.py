"""Cleaning: mark the spans of a source that are nobody's view (the text is never rewritten).

Lines are read through their plain form (`bot.ingest.markup`), so a clipped article's Markdown
(`**编辑 | 张三**`, `![](…)`, `[推荐阅读](…)`) is judged by what it says. Besides the usual
boilerplate (ads, disclaimers, copyright, links, engagement prompts, bylines and credits, metadata,
titles and headings, guest bios) cleaning marks the page furniture of clipped posts: image lines and
the captions under them, front matter, lines of bare markup, and lines that hold only a speaker
label (`**李迪华：**`), whose words follow on the next lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.ingest.markup import Plain, plain_line
from bot.ingest.names import looks_like_name
from bot.ingest.span import Span, SpanKind

SENTENCE_END = "。！？!?；;…"
CLOSERS = "”’」』\"')）"
HEADING_MAX = 50
"""A line this short that does not end a sentence is a title, heading or label, not speech."""
AD_LINE_MAX = 12
"""Brand names and slogans in an ad block are this short."""
CAPTION_MAX = 40
"""A short line right under an image is its caption."""
LABEL_MAX = 20
"""A line that only names the next speaker (`李迪华：`, `主持人 ：`) is at most this long."""

_HEADING_PREFIX = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+[、.．]|【[^】]*】|[(（]\s*\d+\s*[)）]|Part\s*\d|第[一二三四五六七八九十\d]+[部章节]|\d{1,2}\s*[.、．]?$)"
)
_CREDIT_WORDS = (
    r"文|作者|撰文|记者|编辑|运营编辑|责编|责任编辑|主编|编审|审核|排版|校对|美编|设计|视觉|图片|摄影|拍摄|"
    r"视频|剪辑|策划|统筹|监制|出品|出品人|制作|译|翻译|编译|整理|采写|采访|口述|题图|封面|配图|图源|来源|出处"
)
_NUMBERED = re.compile(r"^\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[、.．]\s*\S")
_BYLINE = re.compile(rf"^\s*(?:{_CREDIT_WORDS})\s*[/|｜丨:：]")
_CREDIT = re.compile(rf"^\s*(?:(?:{_CREDIT_WORDS})\s*[/|｜丨][^/|｜丨。？！?!]{{0,30}}\s*)+$")
"""Credits joined on one line: `作者 | 宛辰、诗韵 编辑 | 郑玄`."""
_METADATA = re.compile(
    r"^\s*(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?(?:\s+\d+)?|发布时间.*|阅读\s*\d+.*"
    r"|原创|原创\s+\S.{0,40}|[a-z_]+:\s.*)\s*$"
)
_SUMMARY = re.compile(r"^\s*(?:摘要|导读|导语|提要)\s*[:：]?")
_EDITOR_NOTE = re.compile(
    r"^\s*(?:[(（].*(?:作者|本文|编者|整理|原标题|转载|来源).*[)）]\s*$|[(（]\s*(?:注|编者注|编注|译注)\s*[:：]"
    r"|(?:本文|本篇|全文)(?:整理自|根据|来自|系|首发|经|转载|节选|摘编|摘自|原载|获授权)|以上内容(?:整理自|来自))"
)
_DISCLAIMER = re.compile(
    r"免责声明|仅代表作者(?:个人|本人)?(?:观点|看法)|不构成(?:任何)?投资建议|不应被视为投资建议|投资有风险"
)
_COPYRIGHT = re.compile(
    r"版权声明|版权所有|转载请(?:注明|联系)|未经(?:授权|许可)|Copyright|©|侵权.*删除|原创内容|原创文章"
)
_LINK = re.compile(
    r"^\s*(?:友情链接|相关阅读|推荐阅读|延伸阅读|相关文章|原文链接|阅读原文|点击查看|往期回顾|往期推荐|大家都在看|"
    r"精彩回顾|热门文章|近期热文|返回列表|https?://)"
)
_READING_LIST = re.compile(
    r"^\s*(?:相关阅读|推荐阅读|延伸阅读|往期回顾|往期推荐|大家都在看|精彩回顾|热门文章|近期热文|本期更多精彩|本期目录|目录)"
)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]\s+|\d{1,2}[.、)]\s*)\S")
LIST_RUN = 3
"""This many short list items in a row, none a sentence, are a list of titles (a table of contents)."""
_ENGAGEMENT = re.compile(
    r"好文章.{0,8}鼓励|点赞|在看|关注我们|扫码关注|欢迎转发|喜欢(?:这篇|本文)|长按(?:识别|二维码)|点击上方|星标|"
    r"分享给|转发给|置顶|自动备份"
)
_PROMOTION = re.compile(
    r"(?:扫描|扫码|长按|识别).{0,12}(?:二维码|小程序|下方)|评论(?:区|抽奖)|留言.{0,8}(?:送|抽|赠)|抽奖|报名(?:链接|方式)|"
    r"点击.{0,4}(?:阅读原文|下方|链接)|添加.{0,6}微信|限时.{0,4}(?:优惠|折扣)|购买链接|加入.{0,10}会员|会员权益|"
    r"开通.{0,8}会员|一键下单"
)
_AD = re.compile(
    r"交易所|比特币|币圈|数字货币|加密货币|官网|下载APP|注册(?:送|即送|领取)|开户|优惠码|广告|赞助"
)
_CAPTION = re.compile(
    r"^\s*(?:图源|图片来源|图片|图|摄影|拍摄|题图|头图|封面图|配图|视频|截图|供图|来源)[^：:|｜丨/\s]{0,2}\s*[|｜丨:：/]"
)
_PICTURE = re.compile(r"图为|图片|图源|摄影|摄于|截图|资料图|视觉中国|受访者供图|供图")
_BRACKET = re.compile(r"^\s*【([^】]{1,16})】")
_LABEL_ONLY = re.compile(r"^[^\s：:，,。！？!?“”]{1,16}(?:\s*[(（][^)）]{0,30}[)）])?\s*[：:]$")
BRACKET_ROLES = frozenset({"记者", "问", "答", "主持人", "Q", "A"})
_BIO_BLOCK = re.compile(r"(?:嘉宾|作者|人物|讲者|演讲者)(?:简介|介绍)|关于作者")


@dataclass(frozen=True)
class Line:
    """One line of a source: its offsets (newline excluded, outer white space trimmed) and plain reading."""

    number: int
    start: int
    end: int
    text: str
    plain: Plain

    @property
    def blank(self) -> bool:
        """Whether the line holds nothing but white space and markup-free emptiness."""
        return not self.text

    @property
    def words(self) -> str:
        """The line's plain text (markup removed)."""
        return self.plain.text


def split_lines(text: str) -> list[Line]:
    """Split a text into lines with offsets into it; carriage returns and outer white space are trimmed."""
    lines: list[Line] = []
    pos = 0
    open_image = False
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        start = pos + lead
        plain = plain_line(stripped, start, continues_image=open_image)
        lines.append(Line(number, start, start + len(stripped), stripped, plain))
        open_image = plain.open_image or (open_image and not stripped)
        pos += len(raw) + 1
    return lines


def ends_sentence(text: str) -> bool:
    """Whether a text ends like a sentence (closing quotes and brackets after the stop allowed)."""
    body = text.rstrip().rstrip(CLOSERS)
    return bool(body) and body[-1] in SENTENCE_END


def is_label_only(text: str) -> bool:
    """Whether plain text only names a speaker (`李迪华：`), whose words follow on the next lines."""
    return len(text) <= LABEL_MAX and bool(_LABEL_ONLY.match(text))


def classify_line(line: Line) -> SpanKind | None:
    """Return the boilerplate kind of one line, or None when it may be someone's words."""
    text = line.words
    if not line.text:
        return None
    if not text:
        return "image" if line.plain.images else "markup"
    if not any(ch.isalnum() for ch in text):
        return "markup"
    short = len(text) <= HEADING_MAX and not ends_sentence(text)
    if _NUMBERED.match(text) and len(text) <= 60 and sum(text.count(ch) for ch in "。！？!?") <= 2:
        short = True  # a numbered point of an outline (`4、从肯定大多数优秀员工开始，以激励落后者。`)
    if (
        line.text.startswith(("**", "__"))
        and line.text.endswith(("**", "__"))
        and len(text) <= 30
        and text[-1] in "？?"
    ):
        short = True  # a bold question standing alone (`**人工智能的机会属于谁？**`) is a heading
    rules: list[tuple[bool, SpanKind]] = [
        (bool(_DISCLAIMER.search(text)), "disclaimer"),
        (bool(_COPYRIGHT.search(text)) and len(text) <= 200, "copyright"),
        (bool(_LINK.search(text)), "link"),
        (bool(_ENGAGEMENT.search(text)) and len(text) <= HEADING_MAX, "engagement"),
        (bool(_PROMOTION.search(text)) and len(text) <= 200, "ad"),
        (bool(_METADATA.match(text)), "metadata"),
        (bool(_SUMMARY.match(text)) and short, "summary"),
        (bool(_EDITOR_NOTE.match(text)), "editor_note"),
        (bool(_CREDIT.match(text)) or (bool(_BYLINE.match(text)) and short), "byline"),
        (bool(_CAPTION.match(text)) and len(text) <= CAPTION_MAX, "caption"),
        (is_label_only(text), "label"),
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


def _front_matter(lines: list[Line]) -> set[int]:
    """Line numbers of a YAML front matter block (`---` … `---`) opening the text."""
    filled = [line for line in lines if not line.blank]
    if not filled or filled[0].text != "---":
        return set()
    for line in filled[1:]:
        if line.text == "---":
            return set(range(filled[0].number, line.number + 1))
    return set()


def _runs(lines: list[Line]) -> Iterator[tuple[Line, SpanKind | None]]:
    """Yield each non-blank line with its kind, marking bios, captions, reading lists and ad clusters."""
    kinds: list[tuple[Line, SpanKind | None]] = []
    front = _front_matter(lines)
    in_bio = in_list = False
    after_image = False
    captions = 0
    for line in lines:
        if line.blank:
            continue
        kind: SpanKind | None = "metadata" if line.number in front else classify_line(line)
        if kind == "heading" and _BIO_BLOCK.search(line.words):
            in_bio = True
        elif in_bio and kind is None:
            kind = "bio"
        if kind == "link" and _READING_LIST.match(line.words):
            in_list = True
        elif in_list and (
            kind in (None, "heading") and (line.plain.images or len(line.words) <= HEADING_MAX)
        ):
            kind = "link"  # the titles of a reading list
        elif in_list and kind is None:
            in_list = False
        if after_image and kind in (None, "heading") and _captions(line.words, second=captions > 0):
            kind = "caption"
        elif kind in (None, "heading") and line.plain.images and not ends_sentence(line.words) and len(line.words) <= 120:
            kind = "caption"  # text beside an image on its own line: `![](…)OECD国家床位数变化情况`
        # A caption may take two lines (`民国时期的北海公园` / `供图：林峥`).
        after_image = (
            kind == "image"
            or (kind is None and bool(line.plain.images))
            or (kind == "caption" and captions < 2)
        )
        captions = captions + 1 if kind == "caption" else 0
        kinds.append((line, kind))
    kinds = _title_lists(_leads(kinds))
    # A run of short label lines that holds an ad is an ad block as a whole (brand names, slogans).
    kinds = [
        (
            line,
            "ad"
            if kind == "heading" and len(line.words) <= AD_LINE_MAX and _in_ad_cluster(kinds, i)
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


LEAD_LINES = 12
"""A byline this near the top closes the header: text above it is the post's summary, not its body."""


def _leads(kinds: list[tuple[Line, SpanKind | None]]) -> list[tuple[Line, SpanKind | None]]:
    """Mark text above a byline near the top (a WeChat post's digest) as its summary."""
    byline = next((i for i, (_, kind) in enumerate(kinds[:LEAD_LINES]) if kind == "byline"), None)
    if byline is None:
        return kinds
    return [
        (line, "summary" if i < byline and kind is None else kind) for i, (line, kind) in enumerate(kinds)
    ]


def _title_lists(kinds: list[tuple[Line, SpanKind | None]]) -> list[tuple[Line, SpanKind | None]]:
    """Mark runs of short Markdown list items that end no sentence (`* 调查：…（李晓洁）`) as links."""

    def item(line: Line) -> bool:
        return bool(_LIST_ITEM.match(line.text)) and len(line.words) <= 60 and not ends_sentence(line.words)

    marked = list(kinds)
    run: list[int] = []
    for index in range(len(kinds) + 1):
        if index < len(kinds) and item(kinds[index][0]):
            run.append(index)
            continue
        if len(run) >= LIST_RUN:
            for i in run:
                marked[i] = (kinds[i][0], "link")
        run = []
    return marked


def _captions(words: str, *, second: bool = False) -> bool:
    """Whether a line under an image reads as its caption: short, or saying what the picture shows.

    A second caption line must say so itself (`供图：林峥`, `图为…`).
    """
    credited = bool(_CAPTION.match(words) or _PICTURE.search(words)) and len(words) <= 2 * CAPTION_MAX
    if second:
        return credited
    return credited or (len(words) <= CAPTION_MAX and not ends_sentence(words))


def _in_ad_cluster(kinds: list[tuple[Line, SpanKind | None]], index: int) -> bool:
    """Whether the short line at `index` sits in a run of short lines next to an ad line."""

    def short(i: int) -> bool:
        if not 0 <= i < len(kinds):
            return False
        return kinds[i][1] == "ad" or (kinds[i][1] == "heading" and len(kinds[i][0].words) <= AD_LINE_MAX)

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
    """Return the plain text of the line cleaning takes for the title, or an empty string."""
    lines = {line.start: line for line in split_lines(text)}
    return next((lines[s.start].words for s in find_boilerplate(text) if s.kind == "title"), "")
