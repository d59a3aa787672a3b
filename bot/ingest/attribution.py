"""Attribution: who said which span of a source, and whether in their own words or reported.

Four shapes of Chinese media text are read, alone or mixed in one article:

* Q&A interviews: `Q:`/`记者:`/`<outlet>:` questions and `<name>:` answers (ASCII or full-width colon);
  an answer runs over the following paragraphs until the next label, heading or boilerplate.
* Salons and roundtables: several named speakers; a named host whose turns mostly end in questions
  asks (role `question`) and sometimes gives views (role `view`).
* First-person speeches and essays with no labels, credited to their author (byline, title, editor note).
* News reports: reported speech (`X表示/认为/称…`, `在X看来`, `他提到`) is `reported`; “quoted” words
  attributed by the surrounding sentence are `direct`.

Words a speaker relays from someone else (`李彦宏说,“…”`) keep the speaker but get role `relayed`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

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
from bot.ingest.span import Attribution, Person, Span, SpeechKind, SpeechRole, Utterance
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
    r"^(?:\*\*|__)?【?(?P<label>[A-Za-z][A-Za-z .]{0,24}?|[^\s:：，,。！？!?“”《》()（）【】*]{1,16}?)】?"
    r"\s*(?:[(（][^)）]{0,30}[)）])?\s*(?:[:：]\s*(?:\*\*|__)?|(?<=】)\s*)"
)
"""A speaker label: `李涛:`, `记者：`, `Q:`, `李涛（APUS CEO）：`, `**问：**`, `【李涛】`."""
QUESTION_LABELS = frozenset({"Q", "问", "提问", "记者", "主持人", "主持", "编者", "观众", "网友", "读者"})
ANSWER_LABELS = frozenset({"A", "答", "回答"})
OUTLET_ENDINGS = ("社", "报", "网", "台", "刊", "君", "新闻", "财经", "日报", "周刊", "时报", "杂志")
_RELAY = re.compile(rf"(?:{SPEECH_VERBS}|讲话|论断|比喻|声音|观点|说法|名言)[^“”。，,]{{0,6}}[:：,，]?\s*“")
_RELAY_SOURCE = re.compile(r"讲话|论断|比喻|声音|说法|名言|有人|有位|有个|有句话|前辈|同行|业界|网上|质疑")
_FIRST_PERSON = re.compile(r"我")
_AUTHOR_NOTE = re.compile(r"作者\s*[/|｜丨:：]?\s*([\u4e00-\u9fff]{2,4}?)(?:系|是|为|，|,|\s|）|\))")
_BYLINE_NAME = re.compile(r"^(?:文|作者|撰文)\s*[/|｜丨:：]\s*([\u4e00-\u9fff]{2,4})$")
_REPORTER = re.compile(r"记者\s*([\u4e00-\u9fff]{2,4})")
MIN_REPORTED = 8
"""A reported piece shorter than this is only the attribution itself (`周明称。`)."""
MIN_QUOTE = 4
"""Shorter “quoted” terms are emphasis (scare quotes), not someone's words."""


@dataclass(frozen=True)
class _Turn:
    """One labelled turn: who, and the lines it covers (the first without its label)."""

    speaker: str | None
    spans: tuple[tuple[int, int], ...]


def attribute_speakers(source_id: str, text: str, boilerplate: Iterable[Span]) -> Attribution:
    """Return who said which span of `text`, given the boilerplate spans cleaning found."""
    marked = {span.start: span for span in boilerplate}
    lines = [line for line in split_lines(text) if not line.blank]
    body = [line for line in lines if line.start not in marked]
    known = _names_in(text, lines, marked)
    labels = _speaker_labels(text, body, known)
    known |= {name for name in labels.values() if name}
    reader = _Reader(source_id, text, known)
    turns, covered = _turns(lines, marked, labels, text)
    hosts = _hosts(text, turns)
    for turn in turns:
        if turn.speaker is None:
            continue
        question = turn.speaker in hosts and _asks(text[turn.spans[0][0] : turn.spans[-1][1]])
        for start, end in turn.spans:
            reader.direct(turn.speaker, start, end, role="question" if question else "view")
    narration = [line for line in body if line.start not in covered]
    author = None if labels else _speech_author(text, lines, marked, narration)
    for line in narration:
        if author:
            reader.direct(author, line.start, line.end, role="view")
        else:
            reader.narration(line)
    utterances = _merge(text, reader.utterances)
    speakers = {u.speaker for u in utterances}
    spoken = [(u.start, u.end) for u in utterances]
    people = {name: _person(name, text, lines, marked, speakers, spoken) for name in sorted(speakers)}
    return Attribution(
        source=source_id,
        utterances=tuple(utterances),
        people=people,
        boilerplate=tuple(sorted(marked.values(), key=lambda s: s.start)),
    )


def _names_in(text: str, lines: list[Line], marked: dict[int, Span]) -> set[str]:
    """Find people's names: names given a role (`CEO方汉`), bio entries and names before speech verbs."""
    names: set[str] = set()
    for line in lines:
        if line.start in marked and marked[line.start].kind == "bio":
            head = re.match(r"([^\s,，:：、]{2,4})\s*[,，:：]", line.text)
            if head and looks_like_name(head.group(1)):
                names.add(head.group(1))
            continue
        if line.start in marked and marked[line.start].kind not in ("editor_note",):
            continue
        ends = [m.start() for m in _REPORT.finditer(text, line.start, line.end)]
        ends += [m.end() - 2 for m in _SEEN_AS.finditer(text, line.start, line.end)]
        for end in ends:
            name = name_before(text, end)
            # A name met once and without a role is more likely a word (`比喻来解释`) than a person.
            if name and (text.count(name) >= 2 or role_before(text, end - len(name))):
                names.add(name)
        for title in TITLE_PATTERN.finditer(text, line.start, line.end):  # `CEO赵启明`: a name given a role
            name = next(
                (c for n in (3, 2) if looks_like_name(c := text[title.end() : title.end() + n])), None
            )
            if name and role_before(text, title.end()):
                names.add(name)
    return names


def _speaker_labels(text: str, body: list[Line], known: set[str]) -> dict[int, str | None]:
    """Map the start of every labelled line to its speaker name, or None for an interviewer."""
    raw: dict[int, str] = {}
    for line in body:
        match = _LABEL.match(line.text)
        if match and line.text[match.end() :].strip():
            raw[line.start] = _label_name(match.group("label").strip())
    counts = Counter(raw.values())
    labels: dict[int, str | None] = {}
    for start, label in raw.items():
        if (
            label in QUESTION_LABELS
            or (label + "记者") in text
            or (label.endswith(OUTLET_ENDINGS) and not looks_like_name(label))
        ):
            labels[start] = None
        elif label in ANSWER_LABELS or (
            looks_like_name(label) and (counts[label] >= 2 or text.count(label) >= 2 or label in known)
        ):
            labels[start] = label
    if labels:
        # In a labelled transcript, a name-shaped label that occurs once is still a speaker.
        labels.update(
            {start: label for start, label in raw.items() if start not in labels and looks_like_name(label)}
        )
    answerer = _main_person(text, known - {v for v in labels.values() if v})
    return {
        start: (answerer if label in ANSWER_LABELS else label)
        for start, label in labels.items()
        if label not in ANSWER_LABELS or answerer
    }


def _label_name(label: str) -> str:
    """Return the name in a label that carries a role (`APUS创始人李涛` → `李涛`), else the label."""
    titles = list(TITLE_PATTERN.finditer(label))
    if titles and not looks_like_name(label):
        rest = label[titles[-1].end() :].lstrip("兼 ")
        if looks_like_name(rest):
            return rest
    return label


def _main_person(text: str, names: set[str]) -> str | None:
    """Return the most mentioned of `names` (the interviewee behind `A:` labels)."""
    ranked = sorted(names, key=lambda n: (-text.count(n), n))
    return ranked[0] if ranked else None


def _turns(
    lines: list[Line], marked: dict[int, Span], labels: dict[int, str | None], text: str
) -> tuple[list[_Turn], set[int]]:
    """Group labelled lines and their continuation paragraphs into turns; also return the lines covered."""
    turns: list[_Turn] = []
    covered: set[int] = set()
    speaker: str | None = None
    spans: list[tuple[int, int]] = []
    active = False

    def close() -> None:
        nonlocal spans, active
        if active and spans:
            turns.append(_Turn(speaker, tuple(spans)))
        spans, active = [], False

    for line in lines:
        if line.start in marked:
            close()
            continue
        if line.start in labels:
            close()
            speaker, active = labels[line.start], True
            label_end = _LABEL.match(line.text)
            offset = label_end.end() if label_end else 0
            spans.append((line.start + offset, line.end))
            covered.add(line.start)
        elif (
            active
            and not _reports_someone(text, line, {speaker, *labels.values()} - {None})
            and not (_LABEL.match(line.text) and is_question(line.text))  # `36氪：…？` asks; the answer ended
        ):
            spans.append((line.start, line.end))
            covered.add(line.start)
        else:
            close()
    close()
    return turns, covered


def _reports_someone(text: str, line: Line, speakers: set[str | None]) -> bool:
    """Whether a paragraph reads as a narrator reporting one of the speakers (so an answer has ended)."""
    named = {name for name in speakers if name}
    ends = [m.start() for m in _REPORT.finditer(text, line.start, line.end)]
    ends += [m.end() - 2 for m in _SEEN_AS.finditer(text, line.start, line.end)]
    return any(name_before(text, end, known=named) in named for end in ends)


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
            asked[turn.speaker] += is_question(text[turn.spans[0][0] : turn.spans[-1][1]])
    return {name for name, count in total.items() if count >= 3 and asked[name] * 2 >= count}


def _speech_author(
    text: str, lines: list[Line], marked: dict[int, Span], narration: list[Line]
) -> str | None:
    """Return the author of a first-person speech or essay, or None when the text is not one."""
    outside = "".join(re.sub(r"“[^”]*”", "", line.text) for line in narration)
    if not outside or len(_FIRST_PERSON.findall(outside)) * 1500 < len(outside):
        return None
    reporters = set(_REPORTER.findall(text))
    votes: Counter[str] = Counter()
    for index, line in enumerate(lines):
        kind = marked[line.start].kind if line.start in marked else None
        if kind in ("heading", "title", "byline") and index < 5 and looks_like_name(line.text):
            votes[line.text] += 2
        if kind in ("title", "editor_note", "byline"):
            for name in [*_AUTHOR_NOTE.findall(line.text), *_BYLINE_NAME.findall(line.text)]:
                votes[name] += 2
            title_name = re.match(r"([\u4e00-\u9fff]{2,4}?)(?:谈|：|:|说|论)", line.text)
            if kind == "title" and title_name:
                votes[title_name.group(1)] += 1
    ranked = [(n, v) for n, v in votes.most_common() if looks_like_name(n) and n not in reporters]
    return ranked[0][0] if ranked and ranked[0][1] >= 2 else None


class _Reader:
    """Collects utterances from turns and narration of one source."""

    def __init__(self, source_id: str, text: str, known: set[str]) -> None:
        self.source_id, self.text, self.known = source_id, text, known
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
    ) -> None:
        """Record one utterance, trimmed of white space and bare punctuation."""
        while start < end and (self.text[start].isspace() or self.text[start] in "，,、;；:："):
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        if sum(ch.isalnum() for ch in self.text[start:end]) >= (MIN_REPORTED if kind == "reported" else 2):
            self.utterances.append(Utterance(speaker, self.source_id, start, end, kind, role, relayed_from))

    def direct(self, speaker: str, start: int, end: int, *, role: SpeechRole) -> None:
        """Record a speaker's own paragraph, splitting out sentences that relay someone else's words."""
        if role == "question":
            self.add(speaker, start, end, "direct", "question")
            return
        pieces: list[tuple[int, int, str | None]] = []  # (start, end, relayed_from or "" for own)
        for s, e in split_sentences(self.text, start, end):
            relay = self._relayed_from(s, e)
            if pieces and (pieces[-1][2] is None) == (relay is None) and pieces[-1][2] == relay:
                pieces[-1] = (pieces[-1][0], e, relay)
            else:
                pieces.append((s, e, relay))
        for s, e, relay in pieces:
            if relay is None:
                self.add(speaker, s, e, "direct", role)
            else:
                self.add(speaker, s, e, "direct", "relayed", relay or None)

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
        return max(sources)[1]

    def narration(self, line: Line) -> None:
        """Find reported and quoted speech in one narrator paragraph."""
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
        return min(found)[1] if found else None

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
    """Join neighbouring pieces of one paragraph that have the same speaker, kind and role."""
    merged: list[Utterance] = []
    for utterance in sorted(utterances, key=lambda u: (u.start, u.end)):
        last = merged[-1] if merged else None
        gap = text[last.end : utterance.start] if last else ""
        if (
            last is not None
            and (last.speaker, last.kind, last.role, last.relayed_from)
            == (utterance.speaker, utterance.kind, utterance.role, utterance.relayed_from)
            and "\n" not in gap
            and not any(ch.isalnum() for ch in gap)
        ):
            merged[-1] = Utterance(
                last.speaker, last.source, last.start, utterance.end, last.kind, last.role, last.relayed_from
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
    marked: dict[int, Span],
    speakers: set[str],
    spoken: list[tuple[int, int]],
) -> Person:
    """Collect a speaker's role, aliases and bio from the text."""
    roles: list[tuple[int, str]] = []
    bio = ""
    for line in lines:
        kind = marked[line.start].kind if line.start in marked else None
        if kind in ("title", "heading", "ad", "byline"):
            continue
        for match in re.finditer(re.escape(name), text[line.start : line.end]):
            at = line.start + match.start()
            role = role_before(text, at) or role_after(text, at + len(name))
            if role:
                roles.append((0 if kind is None else 1, role))
        if kind == "bio" and line.text.startswith(name):
            bio = line.text[len(name) :].lstrip(" ,，:：")
    role = min(roles, key=lambda r: r[0])[1] if roles else ""
    title, org = split_role(role)
    return Person(name=name, title=title, org=org, aliases=aliases_in(text, name, others=speakers), bio=bio)
