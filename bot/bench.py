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
    return result
