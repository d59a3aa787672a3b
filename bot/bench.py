"""`panelbot bench`: cold start and `ask` latency against the bare retrieval floor, at 1× and 100× corpus."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.panel import Panel
from bot.persona.profile import Persona, Quote
from bot.persona.registry import PersonaRegistry
from bot.retrieval.chunk import passages_of
from bot.retrieval.index import PassageIndex, chroma_client
from bot.retrieval.search import CANDIDATES, HybridRetriever
from bot.settings import Settings

SAMPLE_QUESTIONS = (
    "中国的大模型和美国差距有多大？",
    "创业公司还有机会做大模型吗？",
    "算力不够怎么办？",
    "开源模型有什么意义？",
    "垂直行业的模型有前途吗？",
    "AI会让很多人失业吗？",
    "大模型会不会出现应用商店？",
    "谁说过大模型是云？",
    "量子计算什么时候能商用？",
    "训练一个大模型要花多少钱？",
)
"""Used when no question file is given."""


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def timed(call: Callable[[str], object], questions: Sequence[str], *, repeats: int) -> list[float]:
    """Milliseconds per call, each question asked `repeats` times (after one warm-up pass)."""
    for question in questions:
        call(question)
    samples: list[float] = []
    for _ in range(repeats):
        for question in questions:
            started = time.perf_counter()
            call(question)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(panel: Panel, questions: Sequence[str], *, repeats: int, cold_start_s: float) -> dict[str, Any]:
    """Latency of `ask` and of the floor (one query embedding plus one Chroma query) on one panel."""

    def floor(question: str) -> object:
        return panel.index.dense(panel.embedder.embed_query(question), top_k=CANDIDATES * 2)

    asks = timed(lambda q: panel.ask(q), questions, repeats=repeats)
    floors = timed(floor, questions, repeats=repeats)
    return {
        "cold_start_s": round(cold_start_s, 3),
        "passages": len(panel.index.snapshot.passages),
        "personas": len(panel.registry),
        "ask_p50_ms": round(statistics.median(asks), 2),
        "ask_p95_ms": round(percentile(asks, 0.95), 2),
        "floor_p50_ms": round(statistics.median(floors), 2),
        "floor_p95_ms": round(percentile(floors, 0.95), 2),
    }


def scaled_personas(personas: Sequence[Persona], factor: int) -> list[Persona]:
    """Make `factor`× the personas with distinct synthetic quotes (texts reordered and numbered)."""
    grown: list[Persona] = list(personas)
    for k in range(1, factor):
        for persona in personas:
            quotes = [
                Quote(
                    id=f"{q.id}-{k}",
                    source=q.source,
                    start=q.start,
                    end=q.end,
                    kind=q.kind,
                    role=q.role,
                    text=f"{q.text[len(q.text) // 2 :]}{q.text[: len(q.text) // 2]}（样本{k}）",
                )
                for q in persona.quotes
            ]
            grown.append(
                persona.model_copy(
                    update={
                        "id": f"{persona.id}-{k}",
                        "name": f"{persona.name}{k}号",
                        "aliases": [],
                        "quotes": quotes,
                        "stances": [],
                    }
                )
            )
    return grown


def synthetic_interview(size: int) -> str:
    """A Q&A transcript of about `size` characters, every answer a labelled paragraph."""
    turn = (
        "记者：第{n}个问题，您怎么看价格战？\n\n"
        "赵启明：我认为价格战对行业是好事，它逼着所有人把推理成本降下来。第{n}点，我们会继续投入研发。\n\n"
    )
    parts: list[str] = []
    length = n = 0
    while length < size:
        piece = turn.format(n=n)
        parts.append(piece)
        length += len(piece)
        n += 1
    return "".join(parts)


def ingest_bench(settings: Settings) -> dict[str, Any]:
    """Time attribution at 1 MB and 4 MB of Q&A and on 1 MB of bare quotation marks.

    The cost should grow linearly with the text; a first ingest of the configured sources is timed
    against an unchanged re-ingest.
    """
    from bot.ingest.attribution import attribute_speakers
    from bot.ingest.clean import find_boilerplate
    from bot.ingest.pipeline import ingest

    def attribution_seconds(text: str) -> float:
        started = time.perf_counter()
        attribute_speakers("bench", text, find_boilerplate(text))
        return time.perf_counter() - started

    attribution_seconds(synthetic_interview(10_000))  # loads the dictionaries once
    small, large = (
        attribution_seconds(synthetic_interview(1_000_000)),
        attribution_seconds(synthetic_interview(4_000_000)),
    )
    result: dict[str, Any] = {
        "qa_1mb_s": round(small, 2),
        "qa_4mb_s": round(large, 2),
        "qa_4mb_over_1mb": round(large / small, 2),
        "quotes_1mb_s": round(attribution_seconds("“" * 1_000_000), 2),
    }
    with tempfile.TemporaryDirectory(prefix="panelbot-bench-") as scratch:
        personas, cache = Path(scratch) / "personas", Path(scratch) / "cache"
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            ingest(settings.seeds_dir, personas, max_bytes=settings.max_source_bytes, cache_dir=cache)
            runs.append(time.perf_counter() - started)
    result["first_s"], result["unchanged_s"] = round(runs[0], 3), round(runs[1], 3)
    return result


def run_bench(
    settings: Settings, *, questions: Sequence[str], scale: int = 100, repeats: int = 3
) -> dict[str, Any]:
    """Measure the panel as configured, then the same on a `scale`× synthetic corpus in a scratch store."""
    started = time.perf_counter()
    panel = Panel.open(settings)
    result = measure(panel, questions, repeats=repeats, cold_start_s=time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="panelbot-bench-") as scratch:
        started = time.perf_counter()
        registry = PersonaRegistry(scaled_personas(list(panel.registry), scale))
        index = PassageIndex(chroma_client(data_dir=Path(scratch)), embedder=panel.embedder)
        index.build(list(passages_of(registry)))
        big = Panel(
            registry,
            panel.sources,
            index,
            HybridRetriever(index, panel.embedder),
            panel.composer,
            panel.embedder,
        )
        result["scaled"] = measure(
            big, questions, repeats=repeats, cold_start_s=time.perf_counter() - started
        )
    result["scale"] = scale
    result["questions"] = len(questions)
    result["ingest"] = ingest_bench(settings)
    return result
