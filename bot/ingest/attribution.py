"""Attribution: who said which span of a source, and whether in their own words or reported.

The shapes of Chinese media text, alone or mixed in one article, read through each line's plain
form (Markdown removed, offsets kept):

* Transcripts (Q&A interviews, panels, podcasts): a speaker label opens a turn (`李涛：`, `**成庆** ：`,
  `【李涛】`, `Q：`, `「暗涌」：`, or a line holding only `**李迪华：**`); the turn runs over the following
  paragraphs, across images and captions, until the next label, a heading or page furniture. Labels
  name people by short forms that the roster resolves (`刘老师`, `戈德曼`, `葛`); interviewer labels
  (`Q`, `记者`, an outlet) and unresolved labels whose turns mostly ask are the interviewer's. A named
  speaker whose turns mostly ask is a host: their questions get role `question`. Each answer keeps
  the question it replies to.
* Round-ups whose headings name the speaker (`**周伯文-**`, then a role line, a summary heading and the
  excerpt): the paragraphs under such a heading are that person's words.
* First-person speeches, letters and essays with no labels, credited to the author that metadata,
  a byline, a subtitle (`——任正非在…上的讲话`) or an editor's lead (`以下为…的演讲`) names.
* News reports: reported speech (`X表示/认为/称…`, `在X看来`, `他提到`) is `reported`; “quoted” words
  attributed by the surrounding sentence are `direct`.

Words a speaker relays from someone else (`李彦宏说,“…”`) keep the speaker but get role `relayed`.
Where no rule decides, nothing is attributed: a span left out costs recall, a wrong one trust.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.ingest.clean import Line, split_lines
from bot.ingest.names import (
    TITLE_PATTERN,
    aliases_in,
    looks_like_name,
    name_before,
    role_after,
    role_before,
    split_role,
)
from bot.ingest.roster import Roster
from bot.ingest.span import Attribution, Person, Span, SpanKind, SpeechKind, SpeechRole, Utterance
from bot.ingest.text import is_question, quotations, split_sentences

SPEECH_VERBS = (
    "表示|认为|称|指出|提到|坦言|强调|介绍|透露|说道|说|相信|发现|觉得|直言|分析|解释|补充|回忆|谈到|告诉|判断|"
    "预计|预测|建议|呼吁|感叹|总结|提醒|坦承|所定义|定义|看好|担心|主张"
)
_REPORT = re.compile(
    rf"(?:也|还|则|亦|更|同样|进一步|再次|曾|一直|就|都)?(?:对[^，,。：:“”\s]{{1,12}}?)?(?:{SPEECH_VERBS})"
)
_SEEN_AS = re.compile(r"在([^，,。；;“”]{2,40}?)看来")
_LABEL = re.compile(
    r"^(?:【(?P<bracket>[^】]{1,16})】\s*|"
    r"(?P<label>[「《][^」》]{1,12}[」》]|[A-Za-z][A-Za-z .·'-]{0,30}?|[^\s：:，,。！？!?“”「」《》()（）【】]{1,16}?)"
    r"\s*(?:[(（](?P<note>[^)）]{0,40})[)）])?\s*[：:]\s*)"
)
"""A speaker label on a line's plain text: `李涛：`, `成庆 ：`, `李涛（APUS CEO）：`, `【李涛】`, `「暗涌」：`."""
QUESTION_LABELS = frozenset(
    {"Q", "问", "提问", "记者", "主持人", "主持", "编者", "观众", "网友", "读者", "采访者"}
)
ANSWER_LABELS = frozenset({"A", "答", "回答"})
NON_LABELS = frozenset(
    "注 注释 编者按 按 提示 注意 备注 来源 摘要 导读 说明 背景 链接 地址 时间 地点 电话 邮箱 答案 结论 问题 原因 目标 "
    "关键词 标签 附 附录 声明 图 图源 编辑 作者 整理 文 原标题 标题 主题 题目 简介 嘉宾 对谈人 对话嘉宾 活动 日期 比如 "
    "例如 第一 第二 第三 首先 其次 最后 总结 结果 对此 也就是说 换句话说 所以 但是 其实 他 她 我 我们 有人 评论 "
    "关于 重点 要点 核心 亮点 原文 全文 口号 理由 定义 公式 方法 步骤 建议 观点 结论是 例子 案例 数据 价格 地址是".split()
)
_NOT_IN_LABELS = re.compile(r"[我你他她们的了是在有说这那就都也]")
"""Characters of a sentence that never stand in a speaker label (names, roles and outlets lack them)."""
_SAYING_ENDINGS = (
    "说",
    "道",
    "问",
    "表示",
    "指出",
    "认为",
    "称",
    "写道",
    "回应",
    "提到",
    "强调",
    "透露",
    "介绍",
)
OUTLET_ENDINGS = (
    "社",
    "报",
    "网",
    "台",
    "刊",
    "君",
    "新闻",
    "财经",
    "日报",
    "周刊",
    "时报",
    "杂志",
    "派",
    "理想",
)
_RELAY = re.compile(rf"(?:{SPEECH_VERBS}|讲话|论断|比喻|声音|观点|说法|名言)[^“”。，,]{{0,6}}[:：,，]?\s*“")
_RELAY_SOURCE = re.compile(r"讲话|论断|比喻|声音|说法|名言|有人|有位|有个|有句话|前辈|同行|业界|网上|质疑")
_FIRST_PERSON = re.compile(r"我")
_THIRD_PERSON = re.compile(
    rf"(?:^|[，。,；：\s])[他她](?:们)?(?:{SPEECH_VERBS}|曾|也|还|就|在|是|的)|[”\"](?:[\u4e00-\u9fff]{{2,4}})(?:说|表示|称)"
)
_AUTHOR_NOTE = re.compile(r"作者\s*[/|｜丨:：]?\s*([\u4e00-\u9fff]{2,4}?)(?:系|是|为|，|,|\s|）|\))")
_BYLINE_NAME = re.compile(r"^(?:文|作者|撰文|口述)\s*[/|｜丨:：]\s*([\u4e00-\u9fff]{2,4})$")
_META_AUTHOR = re.compile(r"^(?:author|channel_name|speaker|作者|演讲者|讲者)\s*[:：]\s*(\S{2,12})$")
_SPEECH_EVENT = re.compile(
    r"([\u4e00-\u9fff·]{2,10}?)(?:先生|女士)?(?:在|于|出席|参加)[^，。！？\n]{0,40}?"
    r"(?:讲话|演讲|致辞|讲解|发言|分享|讲座|报告|内部信|全员信|公开信|邮件)"
)
_SPEECH_INTRO = re.compile(
    r"以下(?:是|为)\s*([\u4e00-\u9fff·]{2,10}?)(?:先生|女士)?(?:在[^，。！？\n]{0,40}?)?的?"
    r"(?:自述|演讲|讲话|发言|分享|致辞|全文|实录|内部信|口述|信件|邮件)"
)
_REPORTER = re.compile(r"记者\s*([\u4e00-\u9fff]{2,4})")
_SECTION_TRIM = re.compile(r"[\s\-—–:：|丨｜/]+$")
Kinds = dict[int, SpanKind | None]
"""Line start → what cleaning marked the line as (None: it may be someone's words)."""
MIN_REPORTED = 8
"""A reported piece shorter than this is only the attribution itself (`周明称。`)."""
MIN_QUOTE = 4
"""Shorter “quoted” terms are emphasis (scare quotes), not someone's words."""
PASS_THROUGH = frozenset({"image", "caption", "markup"})
"""Page furniture a turn or a section continues across (an image in the middle of an answer)."""
SECTION_THROUGH = frozenset({"image", "caption", "markup", "heading", "label"})
"""What a round-up section continues across: its role line and summary headings."""


@dataclass(frozen=True)
class _Label:
    """A speaker label on a line: who (None for the interviewer, "" for an `A：` answer) and where the words start."""

    form: str
    speaker: str | None
    content: int
    """Offset in the stored text where the words after the label begin (the line's end if none)."""


@dataclass
class _Turn:
    """One labelled turn: who, its spans, and the question it answers."""

    speaker: str | None
    spans: list[tuple[int, int]] = field(default_factory=list)
    question: tuple[int, int] | None = None

    def text(self, text: str) -> str:
        """The turn's words joined."""
        return "".join(text[s:e] for s, e in self.spans)


def attribute_speakers(source_id: str, text: str, boilerplate: Iterable[Span]) -> Attribution:
    """Return who said which span of `text`, given the boilerplate spans cleaning found."""
    marked = {span.start: span for span in boilerplate}
    lines = [line for line in split_lines(text) if not line.blank]
    kinds: Kinds = {line.start: (marked[line.start].kind if line.start in marked else None) for line in lines}
    raw_labels = _raw_labels(lines, kinds)
    roster = Roster.gather(text, labels=[_bare(form) for form, _ in raw_labels.values()])
    for name in _names_in(text, lines, kinds):
        roster.add(name)
    headline = " ".join(line.words for line in lines if kinds[line.start] in ("title", "byline", "metadata"))
    labels = _speaker_labels(text, raw_labels, roster, headline=headline)
    ends = {line.start: line.end for line in lines}
    for start, (form, content) in raw_labels.items():  # `36氪：那闭源呢？`: an unknown label that asks
        line_text = text[start : ends[start]]
        if start not in labels and labels and content < start + len(line_text) and is_question(line_text):
            labels[start] = _Label(form, None, content)
    turns, covered = _turns(lines, kinds, labels, text, roster)
    _settle_interviewers(text, turns)
    reader = _Reader(source_id, text, roster)
    hosts = _hosts(text, turns)
    _carry_host_questions(text, turns, hosts)
    for turn in turns:
        if not turn.speaker:
            continue
        asking = turn.speaker in hosts and _asks(turn.text(text))
        for start, end in turn.spans:
            reader.direct(
                turn.speaker, start, end, role="question" if asking else "view", question=turn.question
            )
    narration = [line for line in lines if kinds[line.start] is None and line.start not in covered]
    if not turns:
        sections = _sections(lines, kinds, roster, text)
        narration = [line for line in narration if line.start not in sections]
        for start, speaker in sections.items():
            line = next(line for line in lines if line.start == start)
            if _mentions_in_third_person(line.words, speaker, roster) or reader.speaker_of_line(line):
                reader.narration(line)
            else:
                reader.direct(speaker, *_words_span(line), role="view")
        author = None if sections else _speech_author(text, lines, kinds, narration, roster)
        if author:
            start_at = _speech_start(lines, author, roster)
            for line in narration:
                third = _mentions_in_third_person(line.words, author, roster)
                if line.start >= start_at and not third:
                    reader.direct(author, *_words_span(line), role="view")
                else:
                    reader.narration(line)
            narration = []
    for line in narration:
        reader.narration(line)
    utterances = _merge(text, reader.utterances)
    speakers = {u.speaker for u in utterances}
    people = {name: _person(name, text, lines, kinds, speakers, roster) for name in sorted(speakers)}
    return Attribution(
        source=source_id,
        utterances=tuple(utterances),
        people=people,
        boilerplate=tuple(sorted(marked.values(), key=lambda s: s.start)),
    )


# -- names ----------------------------------------------------------------------------------


def _names_in(text: str, lines: list[Line], kinds: Kinds) -> set[str]:
    """Find names given a role (`CEO方汉`), bio entries and names before speech verbs."""
    names: set[str] = set()
    for line in lines:
        kind = kinds[line.start]
        if kind == "bio":
            head = re.match(r"([^\s,，:：、]{2,4})\s*[,，:：]", line.words)
            if head and looks_like_name(head.group(1)):
                names.add(head.group(1))
            continue
        if kind not in (None, "editor_note"):
            continue
        ends = [m.start() for m in _REPORT.finditer(text, line.start, line.end)]
        ends += [m.end() - 2 for m in _SEEN_AS.finditer(text, line.start, line.end)]
        for end in ends:
            name = name_before(text, end)
            # A name met once and without a role is more likely a word (`比喻来解释`) than a person.
            if name and (text.count(name) >= 2 or role_before(text, end - len(name))):
                names.add(name)
    return names


def _bare(form: str) -> str:
    """A label without the brackets an outlet label may wear (`「暗涌」` → `暗涌`)."""
    return form.strip("「」《》 ")


# -- transcripts -----------------------------------------------------------------------------


def _raw_labels(lines: list[Line], kinds: Kinds) -> dict[int, tuple[str, int]]:
    """Map each line that opens with a label-shaped prefix to (label, offset where its words start)."""
    found: dict[int, tuple[str, int]] = {}
    previous: Line | None = None
    for line in lines:
        before, previous = previous, line
        if kinds[line.start] not in (None, "heading", "label", "summary"):
            continue
        words = line.words
        if words[:1] in "：:" and before is not None and 0 < len(before.words) <= 16:
            # `**成庆**` on one line and `：我在永平寺时…` on the next: the label broke across lines.
            if words[1:].strip() and not _NOT_IN_LABELS.search(before.words):
                found[line.start] = (before.words, line.plain.span(1, len(words))[0])
            continue
        if words in ("问", "答", "Q", "A"):  # a role alone on its line
            found[line.start] = (words, line.end)
            continue
        match = _LABEL.match(words)
        if not match:
            continue
        form = (match.group("bracket") or match.group("label") or "").strip()
        if _NOT_IN_LABELS.search(form):
            continue  # `我记得有记者问过我一个问题：` is a sentence, not a label
        rest = words[match.end() :]
        if match.group("bracket") and not rest:
            continue
        if not rest and kinds[line.start] != "label":
            continue
        content = line.plain.span(match.end(), len(words))[0] if rest else line.end
        found[line.start] = (form, content)
    return found


def _speaker_labels(
    text: str, raw: dict[int, tuple[str, int]], roster: Roster, *, headline: str = ""
) -> dict[int, _Label]:
    """Keep the labels that name a speaker; resolve each to a full name, None for the interviewer."""
    counts = Counter(form for form, _ in raw.values())

    def speaker(form: str) -> str | None | bool:
        bare = _bare(form)
        if bare in NON_LABELS or bare.endswith(_SAYING_ENDINGS) or len(bare) > 16:
            return False
        if (
            bare in QUESTION_LABELS
            or bare.endswith("记者")
            or form[:1] in "「《"
            or (bare.endswith(OUTLET_ENDINGS) and not looks_like_name(bare) and not roster.resolve(bare))
        ):
            return None
        if bare in ANSWER_LABELS:
            return ""
        resolved = roster.resolve(bare) or roster.resolve(_label_name(bare))
        if resolved:
            return resolved
        if counts[form] >= 2 and len(bare) <= 10 and not bare[:1].isdigit():
            return bare
        return False

    labels: dict[int, _Label] = {}
    for start, (form, content) in raw.items():
        who = speaker(form)
        if who is not False:
            labels[start] = _Label(form, who if isinstance(who, str) or who is None else None, content)
    if labels:
        # In a transcript, a name-shaped label met once is still a speaker.
        for start, (form, content) in raw.items():
            name = _label_name(_bare(form))
            if start not in labels and looks_like_name(name) and name not in NON_LABELS:
                labels[start] = _Label(form, roster.canonical(name), content)
    if any(label.speaker == "" for label in labels.values()):
        answerer = _main_person(text, roster, {label.speaker for label in labels.values()}, headline=headline)
        labels = {
            start: _Label(label.form, answerer, label.content) if label.speaker == "" else label
            for start, label in labels.items()
            if label.speaker != "" or answerer
        }
    return labels


def _label_name(label: str) -> str:
    """Return the name in a label that carries a role (`APUS创始人李涛` → `李涛`), else the label."""
    titles = list(TITLE_PATTERN.finditer(label))
    if titles and not looks_like_name(label):
        rest = label[titles[-1].end() :].lstrip("兼 ")
        if looks_like_name(rest):
            return rest
    return label


def _main_person(text: str, roster: Roster, speakers: set[str | None], *, headline: str = "") -> str | None:
    """Return the interviewee behind `A：` labels: named in the title or byline, else the most mentioned."""
    ranked = sorted(
        (name for name in roster.names if name not in speakers),
        key=lambda n: (-(n in headline), -_mentions(text, n, roster), n),
    )
    return ranked[0] if ranked else None


def _mentions(text: str, name: str, roster: Roster) -> int:
    """How often a person is named, short forms included."""
    forms = {name, *(form for form, full in roster.aliases.items() if full == name and len(form) >= 2)}
    return sum(text.count(form) for form in forms)


def _turns(
    lines: list[Line],
    kinds: Kinds,
    labels: dict[int, _Label],
    text: str,
    roster: Roster,
) -> tuple[list[_Turn], set[int]]:
    """Group labelled lines and their continuation paragraphs into turns; also return the lines covered."""
    turns: list[_Turn] = []
    covered: set[int] = set()
    current: _Turn | None = None
    question: tuple[int, int] | None = None
    speakers = {label.speaker for label in labels.values() if label.speaker}

    def close() -> None:
        nonlocal current
        if current is not None and current.spans:
            turns.append(current)
        current = None

    for line in lines:
        kind = kinds[line.start]
        label = labels.get(line.start)
        if label is not None:
            close()
            if current is None and turns and turns[-1].speaker is None and label.speaker:
                last = turns[-1]
                question = (last.spans[0][0], last.spans[-1][1])
            current = _Turn(label.speaker, question=question if label.speaker else None)
            if label.content < line.end:
                start, end = _words_span(line)
                current.spans.append((max(start, label.content), end))
            covered.add(line.start)
            continue
        if kind in PASS_THROUGH:
            continue
        if current is None:
            continue
        if kind is not None or _reports_someone(text, line, speakers, roster):
            close()
            continue
        current.spans.append(_words_span(line))
        covered.add(line.start)
    close()
    # A turn opened by a label-only line with nothing after it is no turn.
    return [t for t in turns if t.spans], covered


def _settle_interviewers(text: str, turns: list[_Turn]) -> None:
    """Treat an unresolved, not name-shaped label whose turns mostly ask (`看理想：`) as the interviewer."""
    by_speaker: dict[str, list[_Turn]] = {}
    for turn in turns:
        if turn.speaker:
            by_speaker.setdefault(turn.speaker, []).append(turn)
    others = [name for name in by_speaker if looks_like_name(name)]
    for name, own in by_speaker.items():
        if looks_like_name(name) or not others:
            continue
        asked = sum(is_question(t.text(text)) for t in own)
        if asked * 2 >= len(own) and len(own) >= 2:
            for turn in own:
                turn.speaker = None
    # Answers after an interviewer turn that was only now recognised keep its question.
    question: tuple[int, int] | None = None
    for turn in turns:
        if turn.speaker is None:
            question = (turn.spans[0][0], turn.spans[-1][1])
        elif turn.question is None and question is not None:
            turn.question = question


def _carry_host_questions(text: str, turns: list[_Turn], hosts: set[str]) -> None:
    """Give the guests' answers the host's question they follow (the interviewer's are set already)."""
    question: tuple[int, int] | None = None
    for turn in turns:
        if turn.speaker is None or (turn.speaker in hosts and _asks(turn.text(text))):
            question = (turn.spans[0][0], turn.spans[-1][1])
        elif turn.question is None:
            turn.question = question


def _reports_someone(text: str, line: Line, speakers: set[str], roster: Roster) -> bool:
    """Whether a paragraph reads as a narrator reporting one of the speakers (so an answer has ended)."""
    known = speakers | {form for form, full in roster.aliases.items() if full in speakers}
    ends = [m.start() for m in _REPORT.finditer(text, line.start, line.end)]
    ends += [m.end() - 2 for m in _SEEN_AS.finditer(text, line.start, line.end)]
    return any(name_before(text, end, known=known) in known for end in ends)


_OPINION = re.compile(r"我(?:觉得|认为|看|相信|倒|的观点|的看法|要打个问号)|在我看来")


def _asks(turn: str) -> bool:
    """Whether a host's turn asks or frames (rather than states the host's own view)."""
    return is_question(turn) or not _OPINION.search(turn)


def _hosts(text: str, turns: list[_Turn]) -> set[str]:
    """Return named speakers who mostly ask: hosts whose question turns are not their views."""
    asked: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for turn in turns:
        if turn.speaker:
            total[turn.speaker] += 1
            asked[turn.speaker] += is_question(turn.text(text))
    if len(total) < 2:
        return set()
    return {name for name, count in total.items() if count >= 2 and asked[name] * 2 >= count}


def _words_span(line: Line) -> tuple[int, int]:
    """The stored-text span of a line's plain words (its markup left out at both ends)."""
    return line.plain.span(0, len(line.words))


# -- round-ups, speeches --------------------------------------------------------------------


def _sections(lines: list[Line], kinds: Kinds, roster: Roster, text: str) -> dict[int, str]:
    """Map body lines of a round-up to the person whose heading (`**周伯文-**`) they stand under.

    Needs at least two such headings naming different people; a section runs across its role line
    and summary headings until the next speaker heading or other page furniture.
    """
    heads: dict[int, str] = {}
    for line in lines:
        if kinds[line.start] not in ("heading", "label", None) or len(line.words) > 24:
            continue
        form = _SECTION_TRIM.sub("", line.words)
        who = roster.resolve(form) or (form if looks_like_name(form) else None)
        if who is None and kinds[line.start] is not None:
            # `百度创始人李彦宏` or `闭源派：百度CEO李彦宏`: a role, then the name.
            tail = form.rsplit("：", 1)[-1].rsplit(":", 1)[-1]
            titles = list(TITLE_PATTERN.finditer(tail))
            rest = tail[titles[-1].end() :].strip(" 兼") if titles else ""
            who = roster.resolve(rest) or (rest if looks_like_name(rest) else None)
        if who:
            heads[line.start] = who
    if len(set(heads.values())) < 2:
        return {}
    # Headings shaped like the others (`井贤栋-`) name a speaker even when the name is unusual.
    endings = Counter(
        line.words[-1] for line in lines if line.start in heads and _SECTION_TRIM.search(line.words)
    )
    for line in lines:
        form = _SECTION_TRIM.sub("", line.words)
        if (
            line.start not in heads
            and kinds[line.start] == "heading"
            and line.words[-1:] in {end for end, count in endings.items() if count >= 2}
            and re.fullmatch(r"[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff·]{3,12}", form)
        ):
            heads[line.start] = roster.canonical(form)
    sections: dict[int, str] = {}
    current: str | None = None
    for line in lines:
        kind = kinds[line.start]
        if line.start in heads:
            current = heads[line.start]
            continue
        if current is None:
            continue
        if kind in SECTION_THROUGH:
            continue
        if kind is not None:
            current = None
            continue
        sections[line.start] = current
    return sections


def _mentions_in_third_person(words: str, name: str, roster: Roster) -> bool:
    """Whether a paragraph speaks of `name` (its name or a short form of it): a narrator's, not theirs."""
    forms = {name, *(form for form, full in roster.aliases.items() if full == name and len(form) >= 2)}
    return any(form in words for form in forms)


def _speech_author(
    text: str, lines: list[Line], kinds: Kinds, narration: list[Line], roster: Roster
) -> str | None:
    """Return the author of a first-person speech, letter or essay, or None when the text is not one."""
    bodies = [re.sub(r"“[^”]*”", "", line.words) for line in narration]
    bodies = [body for body in bodies if len(body) >= 8]
    if not bodies:
        return None
    first_person = sum(bool(_FIRST_PERSON.search(body)) for body in bodies)
    reporting = sum(bool(_THIRD_PERSON.search(body)) for body in bodies)
    # A speech speaks as `我` throughout; a report tells of others (`她说`, `小排说`) line after line.
    if first_person * 4 < len(bodies) or reporting * 4 > len(bodies):
        return None
    reporters = set(_REPORTER.findall(text))
    votes: Counter[str] = Counter()
    for index, line in enumerate(lines):
        kind = kinds[line.start]
        words = line.words
        meta = _META_AUTHOR.match(words)
        if kind == "metadata" and meta:
            votes[meta.group(1).strip("'\"")] += 2
        if kind in ("heading", "title", "byline") and index < 5 and looks_like_name(words):
            votes[words] += 2
        if kind in ("title", "editor_note", "byline", "heading", None):
            for name in [*_AUTHOR_NOTE.findall(words), *_BYLINE_NAME.findall(words)]:
                votes[name] += 2
            for pattern in (_SPEECH_EVENT, _SPEECH_INTRO):
                for match in pattern.finditer(words):
                    named = [c for c in _name_tails(match.group(1)) if roster.known(c) or looks_like_name(c)]
                    if named:
                        votes[roster.canonical(named[0])] += 2
            title_name = re.match(r"([\u4e00-\u9fff]{2,4}?)(?:谈|：|:|说|论)", words)
            if kind == "title" and title_name:
                votes[title_name.group(1)] += 1
        if kind is None and index < 12 and re.match(r"^【[^】]{1,6}】", words):  # `【导 读】任正非对外部说…`
            lead = {name for name in roster.names if name in words}
            lead |= {n for m in _REPORT.finditer(words) if (n := name_before(words, m.start()))}
            for name in lead:
                votes[name] += 2
    ranked = [
        (n, v)
        for n, v in votes.most_common()
        if (looks_like_name(n) or roster.known(n)) and n not in reporters
    ]
    return ranked[0][0] if ranked and ranked[0][1] >= 2 else None


def _name_tails(phrase: str) -> list[str]:
    """Name-shaped endings of a phrase (`华为创始人任正非` → `任正非`, `正非`)."""
    return [phrase] * (len(phrase) <= 4) + [phrase[-n:] for n in (3, 2) if len(phrase) > n]


def _speech_start(lines: list[Line], author: str, roster: Roster) -> int:
    """Where the author's own words begin: after an editor's `以下为…演讲` line, if there is one."""
    for line in lines:
        match = _SPEECH_INTRO.search(line.words)
        if match and roster.canonical(match.group(1)) == author or (match and author in match.group(1)):
            return line.end
    return 0


# -- reading -------------------------------------------------------------------------------


class _Reader:
    """Collects utterances from turns and narration of one source."""

    def __init__(self, source_id: str, text: str, roster: Roster) -> None:
        self.source_id, self.text, self.roster = source_id, text, roster
        self.known = roster.names | {form for form, full in roster.aliases.items() if full and len(form) >= 2}
        self.utterances: list[Utterance] = []
        self.last_person: str | None = None

    def add(
        self,
        speaker: str,
        start: int,
        end: int,
        kind: SpeechKind,
        role: SpeechRole = "view",
        relayed_from: str | None = None,
        question: tuple[int, int] | None = None,
    ) -> None:
        """Record one utterance, trimmed of white space and bare punctuation."""
        while start < end and (self.text[start].isspace() or self.text[start] in "，,、;；:："):
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        if sum(ch.isalnum() for ch in self.text[start:end]) >= (MIN_REPORTED if kind == "reported" else 2):
            self.utterances.append(
                Utterance(
                    self.roster.canonical(speaker),
                    self.source_id,
                    start,
                    end,
                    kind,
                    role,
                    relayed_from,
                    *(question or (None, None)),
                )
            )

    def direct(
        self, speaker: str, start: int, end: int, *, role: SpeechRole, question: tuple[int, int] | None = None
    ) -> None:
        """Record a speaker's own paragraph, splitting out sentences that relay someone else's words."""
        if role == "question":
            self.add(speaker, start, end, "direct", "question")
            return
        pieces: list[tuple[int, int, str | None]] = []  # (start, end, relayed_from or "" for unnamed)
        for s, e in split_sentences(self.text, start, end):
            relay = self._relayed_from(s, e)
            if pieces and pieces[-1][2] == relay:
                pieces[-1] = (pieces[-1][0], e, relay)
            else:
                pieces.append((s, e, relay))
        for s, e, relay in pieces:
            if relay is None:
                self.add(speaker, s, e, "direct", role, question=question)
            else:
                self.add(speaker, s, e, "direct", "relayed", relay or None, question=question)

    def _relayed_from(self, start: int, end: int) -> str | None:
        """Return who a sentence relays ("" when unnamed), or None when the words are the speaker's.

        A relay needs a source before the “quotation”: a named person, a person given a role
        (`百度创始人李彦宏…说`), or a word that names a saying (`有个讲话`, `质疑的声音`).
        """
        sentence = self.text[start:end]
        match = _RELAY.search(sentence)
        if not match:
            return None
        head = sentence[: match.start()]
        sources: list[tuple[int, str]] = [(head.rfind(n), n) for n in self.known if n in head]
        for title in TITLE_PATTERN.finditer(head):
            name = next(
                (
                    head[title.end() : title.end() + n]
                    for n in (3, 2)
                    if looks_like_name(head[title.end() : title.end() + n])
                ),
                None,
            )
            if name:
                sources.append((title.end(), name))
        sources += [(m.start(), "") for m in _RELAY_SOURCE.finditer(sentence[: match.end()])]
        if not sources or head.rfind("我") > max(at for at, _ in sources):
            return None  # the speaker's own words (`我曾说过`), or no one else to relay
        return self.roster.canonical(max(sources)[1]) if max(sources)[1] else ""

    def speaker_of_line(self, line: Line) -> str | None:
        """Return whom a narrator paragraph reports, if any sentence of it reports someone."""
        for start, end in split_sentences(self.text, line.start, line.end):
            speaker = self._speaker_of(start, end)
            if speaker:
                return speaker
        return None

    def narration(self, line: Line) -> None:
        """Find reported and quoted speech in one narrator paragraph.

        `他`/`她` refer back to the last person named, in this paragraph or one that opens with the
        pronoun; a paragraph that starts elsewhere may be about someone the text never names.
        """
        if not re.match(r"[他她]", line.words):
            self.last_person = None
        current: str | None = None
        pending: list[tuple[int, int]] = []
        for start, end in split_sentences(self.text, line.start, line.end):
            speaker = self._speaker_of(start, end)
            if speaker:
                current = self.last_person = speaker
                for q_start, q_end in pending:
                    self.add(speaker, q_start, q_end, "direct")
                pending = []
            elif current is None and self._is_quotation(start, end):
                pending.append(self._inner(start, end))
                continue
            if current:
                self._reported(current, start, end)

    def _speaker_of(self, start: int, end: int) -> str | None:
        """Return who a narrator sentence attributes its content to, if anyone."""
        found: list[tuple[int, str]] = []
        for match in _SEEN_AS.finditer(self.text, start, end):
            name = name_before(self.text, match.end() - 2, known=self.known)
            if name:
                found.append((match.start(), name))
        for match in _REPORT.finditer(self.text, start, end):
            if self._inside_quote(start, match.start()):
                continue
            name = name_before(self.text, match.start(), known=self.known)
            if name and name in self.known:
                found.append((match.start(), name))
            elif self.text[match.start() - 1 : match.start()] in ("他", "她") and self.last_person:
                found.append((match.start(), self.last_person))
        return self.roster.canonical(min(found)[1]) if found else None

    def _inside_quote(self, start: int, pos: int) -> bool:
        """Whether `pos` lies inside a “quotation” that opened after `start`."""
        segment = self.text[start:pos]
        return segment.count("“") > segment.count("”")

    def _is_quotation(self, start: int, end: int) -> bool:
        """Whether a sentence is nothing but a “quotation”."""
        sentence = self.text[start:end].strip()
        return (
            sentence.startswith("“")
            and sentence.rstrip("。！？!?").endswith("”")
            and sentence.count("“") == 1
        )

    def _inner(self, start: int, end: int) -> tuple[int, int]:
        """Return the span inside the quotation marks of a quotation sentence."""
        open_at = self.text.index("“", start, end)
        close_at = self.text.rindex("”", start, end)
        return open_at + 1, close_at

    def _reported(self, speaker: str, start: int, end: int) -> None:
        """Record a reported sentence: “quoted” words are direct, the narrator's paraphrase reported."""
        cursor = start
        for q_start, q_end in quotations(self.text, start, end):
            if q_end - q_start < MIN_QUOTE and not _ends_speech(self.text[q_start:q_end]):
                continue
            self.add(speaker, cursor, q_start - 1, "reported")
            self.add(speaker, q_start, q_end, "direct")
            cursor = q_end + 1
        self.add(speaker, cursor, end, "reported")


def _merge(text: str, utterances: list[Utterance]) -> list[Utterance]:
    """Join neighbouring pieces of one paragraph that have the same speaker, kind, role and question."""
    merged: list[Utterance] = []
    for utterance in sorted(utterances, key=lambda u: (u.start, u.end)):
        last = merged[-1] if merged else None
        gap = text[last.end : utterance.start] if last else ""
        if (
            last is not None
            and (last.speaker, last.kind, last.role, last.relayed_from, last.question_start)
            == (
                utterance.speaker,
                utterance.kind,
                utterance.role,
                utterance.relayed_from,
                utterance.question_start,
            )
            and "\n" not in gap
            and not any(ch.isalnum() for ch in gap)
        ):
            merged[-1] = Utterance(
                last.speaker,
                last.source,
                last.start,
                utterance.end,
                last.kind,
                last.role,
                last.relayed_from,
                last.question_start,
                last.question_end,
            )
        else:
            merged.append(utterance)
    return merged


def _ends_speech(quote: str) -> bool:
    """Whether a short quotation is a whole utterance (ends like a sentence)."""
    return quote.endswith(("。", "！", "？", "!", "?"))


def _person(
    name: str,
    text: str,
    lines: list[Line],
    kinds: Kinds,
    speakers: set[str],
    roster: Roster,
) -> Person:
    """Collect a speaker's role, aliases and bio from the text."""
    roles: list[tuple[int, str]] = []
    bio = ""
    for line in lines:
        kind = kinds[line.start]
        if kind in ("title", "ad", "byline", "image", "caption", "link"):
            continue
        for match in re.finditer(re.escape(name), text[line.start : line.end]):
            at = line.start + match.start()
            role = role_before(text, at) or role_after(text, at + len(name))
            if role:
                roles.append((0 if kind is None else 1, role))
        if kind == "bio" and line.words.startswith(name):
            bio = line.words[len(name) :].lstrip(" ,，:：")
    role = min(roles, key=lambda r: r[0])[1] if roles else ""
    title, org = split_role(role)
    short = sorted(form for form, full in roster.aliases.items() if full == name and len(form) >= 2)
    aliases = sorted({*aliases_in(text, name, others=speakers), *short} - {name})
    return Person(name=name, title=title, org=org, aliases=aliases, bio=bio)
