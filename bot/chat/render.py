"""Rendering: domain objects into neutral Replies, and Replies into plain text.

The first half builds the Replies every channel shows (answers, profile cards, quotes, source
context) with their `[n]` source lines and buttons; the second half turns a Reply into plain text
for the terminal or WeChat and splits long text for messengers with a length limit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from bot.chat.message import MAX_PAYLOAD_BYTES, Button, Reply
from bot.compose.answer import Answer, AskResult, Citation
from bot.debate import DebateTurn
from bot.debate.stance_map import StanceMap
from bot.ingest.sources import Source, SourceMeta
from bot.ingest.text import is_question, split_sentences
from bot.persona.profile import Persona

SIGNATURE_CHARS = (8, 80)
"""A signature quote is one sentence of this many characters (inclusive)."""
CONTEXT_LIMIT = 1200
"""Characters of source text shown around a cited span."""
MARK_OPEN, MARK_CLOSE = "▶", "◀"
"""Around the cited span inside its context."""
CONTEXT_PREFIX, PROFILE_PREFIX = "c", "p"
"""Button payloads: `c:<source>:<start>:<end>` shows a span in context, `p:<persona>` a profile card."""
_HASHED = "~"
"""Marks a key too long for a payload, replaced by a digest of it."""


# -- button payloads -----------------------------------------------------
def _key(key: str, rest: str) -> str:
    """Return the key itself, or its digest when the payload would pass `MAX_PAYLOAD_BYTES`."""
    if len(f"x:{key}{rest}".encode()) <= MAX_PAYLOAD_BYTES:
        return key
    return _HASHED + hashlib.sha1(key.encode()).hexdigest()[:12]


def context_payload(source: str, start: int, end: int) -> str:
    """Return the payload of a button that shows a cited span in its source."""
    rest = f":{start}:{end}"
    return f"{CONTEXT_PREFIX}:{_key(source, rest)}{rest}"


def profile_payload(persona_id: str) -> str:
    """Return the payload of a button that shows a persona's profile card."""
    return f"{PROFILE_PREFIX}:{_key(persona_id, '')}"


def resolve_key(key: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate a payload key names (itself or its digest), or None."""
    options = list(candidates)
    if key in options:
        return key
    if key.startswith(_HASHED):
        return next((c for c in options if _key(c, "x" * MAX_PAYLOAD_BYTES) == key), None)
    return None


# -- replies ---------------------------------------------------------------
def persona_heading(persona: Persona) -> str:
    """Return `名字 · 头衔` (or just the name)."""
    return f"{persona.name} · {persona.title}" if persona.title else persona.name


def describe_source(source_id: str, meta: SourceMeta | None) -> str:
    """Return `标题 · 媒体 · 日期`, falling back to the source id for an untitled document."""
    meta = meta or SourceMeta()
    parts = [meta.title or source_id, meta.outlet, meta.date]
    return " · ".join(part for part in parts if part)


def source_lines(citations: Iterable[Citation], sources: Mapping[str, Source]) -> tuple[str, ...]:
    """Return one `[n] 标题 · 媒体 · 日期` line per citation."""
    return tuple(
        f"[{c.n}] {describe_source(c.source, sources[c.source].meta if c.source in sources else None)}"
        for c in citations
    )


def citation_buttons(citations: Iterable[Citation]) -> tuple[Button, ...]:
    """Return one `📄[n]` button per citation, showing its span in context."""
    return tuple(Button(f"📄[{c.n}]", context_payload(c.source, c.start, c.end)) for c in citations)


def answer_reply(
    answer: Answer, *, persona: Persona | None, sources: Mapping[str, Source], who_said: bool = False
) -> Reply:
    """Render one persona's answer with its source lines and context buttons."""
    text = f"这句话出自{answer.name}。\n{answer.text}" if who_said else answer.text
    if answer.note:
        text = f"{answer.note}\n{text}"
    return Reply(
        text=text,
        kind="answer",
        title=persona_heading(persona) if persona else answer.name,
        citations=answer.citations,
        sources=source_lines(answer.citations, sources),
        buttons=citation_buttons(answer.citations),
    )


def ask_replies(
    result: AskResult, *, personas: Mapping[str, Persona], sources: Mapping[str, Source]
) -> list[Reply]:
    """Render an AskResult: one Reply per answering persona, then the refusal or who stayed silent."""
    replies = [
        answer_reply(a, persona=personas.get(a.persona_id), sources=sources, who_said=result.who_said)
        for a in result.answers
    ]
    if result.message:
        replies.append(Reply(result.message, kind="refusal"))
    return replies


STANCE_LABELS = {"pro": "正方", "con": "反方", "neutral": "中立"}


def debate_reply(turn: DebateTurn, *, sources: Mapping[str, Source]) -> Reply:
    """Render one debate turn: the moderator's procedure or a panelist's cited words."""
    if turn.persona == "moderator":
        title = "主持人"
    else:
        title = f"{turn.name}（{STANCE_LABELS.get(turn.stance, turn.stance)}）"
    return Reply(
        turn.text,
        kind="debate",
        title=title,
        citations=turn.citations,
        sources=source_lines(turn.citations, sources),
        buttons=citation_buttons(turn.citations),
    )


MAP_SIDES = (("pro", "支持"), ("con", "反对"), ("neutral", "中立或有条件"))
NOBODY_ON_MAP = "资料里没有人谈过「{proposition}」，所以没有立场可以列出：我不会替任何人编造观点。"


def map_reply(found: StanceMap, *, sources: Mapping[str, Source]) -> Reply:
    """Render a stance map as one compact message: the sides in turn, one cited claim per person."""
    if not found.positions:
        silent = "、".join(name for _, name in found.silent)
        text = NOBODY_ON_MAP.format(proposition=found.proposition)
        return Reply(f"{text}（{silent}没有谈过它。）" if silent else text, kind="refusal")
    lines = [f"「{found.proposition}」各方立场："]
    citations: list[Citation] = []
    for stance, label in MAP_SIDES:
        side = found.side(stance)  # type: ignore[arg-type]
        if not side:
            continue
        lines.append(f"\n{label}（{len(side)}）")
        for position in side:
            cited = [replace(c, n=len(citations) + i) for i, c in enumerate(position.citations, 1)]
            citations += cited
            partial = "（部分）" if position.partial else ""
            lines.append(f"· {position.name}{partial}：{' '.join(say_quote(c) for c in cited)}")
    if found.silent:
        lines.append(f"\n{'、'.join(name for _, name in found.silent)}没有谈过这个命题。")
    return Reply(
        "\n".join(lines),
        kind="map",
        title="立场图",
        citations=tuple(citations),
        sources=source_lines(citations, sources),
        buttons=citation_buttons(citations),
    )


def say_quote(citation: Citation) -> str:
    """Render a quote in the persona's voice; a narrator's paraphrase is marked as reported."""
    if citation.kind == "reported":
        return f"（据报道）{citation.quote}[{citation.n}]"
    return f"“{citation.quote}”[{citation.n}]"


def signature_quotes(persona: Persona, *, limit: int = 2, direct_only: bool = False) -> list[Citation]:
    """Pick a persona's most telling one-sentence views: stance claims first, then other sentences.

    Only the persona's own views count (never a host's questions or words relayed from others);
    direct words come before reported ones. Citations are numbered 1..n.
    """
    low, high = SIGNATURE_CHARS
    found: dict[tuple[str, int, int], tuple[tuple[int, int, int], Citation]] = {}
    claims = {s.claim: rank for rank, s in enumerate(persona.stances)}
    for quote in persona.quotes:
        if quote.role != "view" or (direct_only and quote.kind != "direct"):
            continue
        for s, e in split_sentences(quote.text, 0, len(quote.text)):
            sentence = quote.text[s:e]
            if not low <= len(sentence) <= high or "\n" in sentence or is_question(sentence):
                continue
            key = (quote.source, quote.start + s, quote.start + e)
            rank = (quote.kind != "direct", claims.get(sentence, len(claims)), -len(sentence))
            citation = Citation(0, quote.source, key[1], key[2], quote.kind, sentence)
            found.setdefault(key, (rank, citation))
    best = sorted(found.values(), key=lambda item: item[0])[:limit]
    return [Citation(n, c.source, c.start, c.end, c.kind, c.quote) for n, (_, c) in enumerate(best, start=1)]


def quote_reply(
    persona: Persona, citation: Citation, *, sources: Mapping[str, Source], lead: str = ""
) -> Reply:
    """Render one signature quote of a persona with its source line and context button."""
    cited = Citation(1, citation.source, citation.start, citation.end, citation.kind, citation.quote)
    return Reply(
        text=f"{lead}{say_quote(cited)}",
        kind="answer",
        title=persona_heading(persona),
        citations=(cited,),
        sources=source_lines([cited], sources),
        buttons=citation_buttons([cited]),
    )


def profile_reply(persona: Persona, *, sources: Mapping[str, Source]) -> Reply:
    """Render a persona's profile card: org, bio, topics and two signature quotes with citations."""
    quotes = signature_quotes(persona)
    lines = [f"机构：{persona.org}" if persona.org else ""]
    lines.append(f"简介：{persona.bio}" if persona.bio else "")
    lines.append(f"话题：{'、'.join(persona.topics)}" if persona.topics else "")
    if quotes:
        lines.append("代表性发言：")
        lines += [say_quote(c) for c in quotes]
    else:
        lines.append("资料里没有可以引用的完整发言。")
    return Reply(
        text="\n".join(line for line in lines if line),
        kind="info",
        title=persona_heading(persona),
        citations=tuple(quotes),
        sources=source_lines(quotes, sources),
        buttons=citation_buttons(quotes),
    )


def context_reply(source: Source, start: int, end: int) -> Reply:
    """Render the paragraph(s) around a cited span, the span itself marked ▶…◀."""
    return Reply(
        text=context_window(source.text, start, end),
        kind="info",
        title=describe_source(source.id, source.meta),
    )


def context_window(text: str, start: int, end: int, *, limit: int = CONTEXT_LIMIT) -> str:
    """Return the paragraph(s) holding `text[start:end]` with one neighbour each side, span marked.

    The neighbour before is cut short with `…` and the one after dropped to stay near `limit`;
    the cited span is never cut.
    """
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\r\n]*\S[^\r\n]*", text)]
    first = next((i for i, (_, e) in enumerate(lines) if e > start), None)
    last = max((i for i, (s, _) in enumerate(lines) if s < end), default=None)
    if first is None or last is None or first > last:
        first = last = None
    lo = min(start, lines[first][0]) if first is not None else start
    hi = max(end, lines[last][1]) if last is not None else end
    cut_lo = cut_hi = False
    if hi - lo > limit:  # one huge paragraph: a window around the span
        lo2, hi2 = max(lo, start - limit // 4), min(hi, end + limit // 4)
        cut_lo, cut_hi, lo, hi = lo2 > lo, hi2 < hi, lo2, hi2
    elif first is not None and last is not None:
        room = limit - (hi - lo)
        if first > 0 and room > 0:
            before_start = lines[first - 1][0]
            cut_lo = lo - room > before_start
            lo = max(before_start, lo - room)
        if last + 1 < len(lines) and lines[last + 1][1] - lo <= limit:
            hi = lines[last + 1][1]
    marked = text[lo:start] + MARK_OPEN + text[start:end] + MARK_CLOSE + text[end:hi]
    return ("…" if cut_lo else "") + marked.strip() + ("…" if cut_hi else "")


# -- plain text --------------------------------------------------------------
def render_plain(reply: Reply) -> str:
    """Render a Reply as plain text: title, text, then its source lines; no markup, no buttons."""
    parts = [reply.title, reply.text, "\n".join(reply.sources)]
    return "\n\n".join(part for part in parts if part)


def split_text(text: str, limit: int, *, measure: Callable[[str], int] = len) -> list[str]:
    """Split text into chunks of at most `limit` (by `measure`), at paragraph, then line, then sentence ends.

    Telegram's 4096 limit counts UTF-16 code units; pass such a `measure` when emoji matter.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    for piece in _pieces(text, limit, measure):
        if chunks and measure(chunks[-1]) + measure(piece) <= limit:
            chunks[-1] += piece
        else:
            chunks.append(piece)
    return [chunk.strip("\n") for chunk in chunks if chunk.strip()]


_SEPARATORS = (re.compile(r"(?<=\n\n)"), re.compile(r"(?<=\n)"), re.compile(r"(?<=[。！？!?；;])"))


def _pieces(text: str, limit: int, measure: Callable[[str], int], level: int = 0) -> list[str]:
    """Cut text into pieces no longer than `limit`, using ever finer separators, then a hard cut."""
    if measure(text) <= limit:
        return [text]
    if level == len(_SEPARATORS):
        pieces, current = [], ""
        for char in text:
            if current and measure(current + char) > limit:
                pieces.append(current)
                current = ""
            current += char
        return pieces + ([current] if current else [])
    parts = [part for part in _SEPARATORS[level].split(text) if part]
    if len(parts) == 1:
        return _pieces(text, limit, measure, level + 1)
    return [small for part in parts for small in _pieces(part, limit, measure, level + 1)]
