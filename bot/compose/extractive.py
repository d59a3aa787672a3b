"""Extractive composing: a persona answers with its own verbatim quotes, each cited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from bot.compose.answer import Answer, Citation, Mode
from bot.ingest.sources import KIND_LABELS, SourceMeta
from bot.persona.profile import Persona
from bot.retrieval.passage import Hit, Passage

MAX_CITATIONS = 3


class Composer(Protocol):
    """Turns a persona's retrieved passages into that persona's answer."""

    mode: Mode

    def compose(self, question: str, persona: Persona, hits: Sequence[Hit]) -> Answer:
        """Answer `question` as `persona` from `hits` (its own passages, best first)."""
        ...


def pick_passages(hits: Sequence[Hit], *, limit: int = MAX_CITATIONS) -> list[Passage]:
    """Choose the best passages without overlaps, keeping them in reading order within a source."""
    chosen: list[Passage] = []
    for hit in hits:
        p = hit.passage
        if any(c.source == p.source and c.start < p.end and p.start < c.end for c in chosen):
            continue
        chosen.append(p)
        if len(chosen) == limit:
            break
    return chosen


def citations_for(passages: Sequence[Passage]) -> tuple[Citation, ...]:
    """Number the passages as citations 1..n."""
    return tuple(
        Citation(n=i, source=p.source, start=p.start, end=p.end, kind=p.kind, quote=p.text)
        for i, p in enumerate(passages, start=1)
    )


def where(meta: SourceMeta | None) -> str:
    """Describe a source briefly for a lead-in: `2023年财联社的采访`."""
    if meta is None:
        return "一篇文章"
    when = f"{meta.date[:4]}年" if meta.date else ""
    outlet = meta.outlet or (f"《{meta.title}》" if meta.title else "")
    kind = KIND_LABELS.get(meta.kind, "文章")
    return f"{when}{outlet}的{kind}" if outlet or when else f"一篇{kind}"


def say(passage: Passage, n: int) -> str:
    """Render one passage in the persona's voice; reported and relayed words are marked as such."""
    if passage.kind == "reported":
        return f"（据报道）{passage.text}[{n}]"
    if passage.role == "relayed":
        source = passage.relayed_from or "别人"
        return f"（我转述{source}的话）{passage.text}[{n}]"
    if passage.role == "question":
        return f"（我当时的提问）{passage.text}[{n}]"
    return f"“{passage.text}”[{n}]"


class ExtractiveComposer:
    """Compose answers from verbatim quotes only: nothing is said that is not in the source."""

    mode: Mode = "extractive"

    def __init__(self, sources: Mapping[str, SourceMeta]) -> None:
        self._sources = sources

    def compose(self, question: str, persona: Persona, hits: Sequence[Hit]) -> Answer:
        """Answer with a short lead-in naming where it was said, then the quotes with `[n]` markers."""
        passages = pick_passages(hits)
        citations = citations_for(passages)
        places = "、".join(dict.fromkeys(where(self._sources.get(p.source)) for p in passages))
        only_reported = all(p.kind == "reported" for p in passages)
        lead = (
            f"我没有留下原话，{places}是这样转述我的看法的："
            if only_reported
            else f"我在{places}中谈过这个问题："
        )
        body = "\n".join(say(p, c.n) for p, c in zip(passages, citations, strict=True))
        return Answer(persona_id=persona.id, name=persona.name, text=f"{lead}\n{body}", citations=citations)
