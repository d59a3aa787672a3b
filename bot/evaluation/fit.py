"""`panelbot fit`: fit the route scorer on a development question set and write `bot/scorer.json`.

Each question of the set is routed the way `bot.router` routes it; every candidate persona gives one
row of features, labelled by whether the gold expects it. A logistic regression (scikit-learn) learns
the weights; the floors are then chosen on the same set to maximise top-1, multi recall and refusals
together. The file records the split it was fitted on: figures on that split are not evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.evaluation.gold import GoldQuestion, load_gold_questions
from bot.router import asks_who, content_terms, score_candidates, who_fragment
from bot.scorer import DEFAULT, FEATURES, Weights
from bot.settings import Settings

logger = logging.getLogger(__name__)

THRESHOLDS = tuple(round(0.025 * i, 3) for i in range(1, 40))
SHARES = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Case:
    """One question with the scorer's features of each candidate persona."""

    question: GoldQuestion
    named: bool
    candidates: tuple[tuple[str, dict[str, float]], ...]
    """(persona name, features), in retrieval order."""


def collect(part: Path, settings: Settings) -> list[Case]:
    """Route every question of a corpus part (ingested in a scratch workspace) and keep the features."""
    import tempfile

    from bot.ingest.pipeline import ingest
    from bot.panel import Panel

    questions = load_gold_questions(part)
    with tempfile.TemporaryDirectory(prefix="panelbot-fit-") as scratch:
        local = settings.model_copy(
            update={
                "seeds_dir": part / "sources",
                "personas_dir": Path(scratch) / "personas",
                "data_dir": Path(scratch) / "data",
                "chroma_host": "",
            }
        )
        ingest(local.seeds_dir, local.personas_dir, max_bytes=local.max_source_bytes)
        panel = Panel.open(local)
        registry, retriever = panel.registry, panel.retriever
        cases = []
        for gold in questions:
            text = gold.question
            terms = content_terms(text, registry)
            mentioned = registry.find_named(text)
            rows: list[Any]
            if asks_who(text):
                fragment = who_fragment(text)
                rows = score_candidates(
                    fragment,
                    content_terms(fragment, registry),
                    registry,
                    retriever,
                    DEFAULT,
                    who=True,
                    fragment=fragment,
                )
            elif mentioned:
                rows = [
                    e
                    for p in mentioned
                    for e in score_candidates(text, terms, registry, retriever, DEFAULT, personas=[p])
                ]
            elif terms:
                rows = score_candidates(text, terms, registry, retriever, DEFAULT)
            else:
                rows = []
            cases.append(Case(gold, bool(mentioned), tuple((e.persona.name, dict(e.features)) for e in rows)))
    return cases


def decide(case: Case, weights: Weights) -> list[str]:
    """The personas a case routes to under `weights` (as `bot.router.route` decides)."""
    scored = sorted(
        ((weights.probability(f), name) for name, f in case.candidates), key=lambda pair: -pair[0]
    )
    floor = weights.named_threshold if case.named else weights.threshold
    chosen = [(p, name) for p, name in scored if p >= floor]
    if not chosen:
        return []
    if case.named:
        return [name for _, name in chosen]
    return [name for p, name in chosen if p >= weights.share * chosen[0][0]][:4]


def measure(cases: Sequence[Case], weights: Weights) -> dict[str, float]:
    """Top-1, multi recall and refusals of the decisions under `weights`."""
    top1: list[float] = []
    multi: list[float] = []
    refused: list[float] = []
    for case in cases:
        routed = decide(case, weights)
        expected = set(case.question.expected_personas)
        if case.question.kind in ("single", "named", "who_said"):
            top1.append(float(bool(routed) and routed[0] in expected))
        elif case.question.kind == "multi":
            multi.append(len(expected & set(routed)) / len(expected))
        elif case.question.kind == "out_of_scope":
            refused.append(float(not routed))

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return {
        "top1": round(mean(top1), 4),
        "multi_recall": round(mean(multi), 4),
        "refusals": round(mean(refused), 4),
    }


def fit(cases: Sequence[Case], *, fitted_on: str) -> Weights:
    """Fit the logistic weights on the candidates, then the floors on the decisions."""
    try:
        import numpy as np
        from sklearn.linear_model import LogisticRegression
    except ImportError as error:
        raise ConfigError(
            "panelbot fit needs scikit-learn: pip install -e '.[dev]'",
            user_message="需要安装 scikit-learn 才能拟合。",
        ) from error
    rows, labels = [], []
    for case in cases:
        expected = set(case.question.expected_personas)
        for name, features in case.candidates:
            rows.append([features.get(f, 0.0) for f in FEATURES])
            labels.append(int(name in expected))
    if len(set(labels)) < 2:
        raise ConfigError("the question set gives no positive and negative candidates to fit on")
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(np.asarray(rows), np.asarray(labels))
    base = Weights(
        coef={f: round(float(c), 4) for f, c in zip(FEATURES, model.coef_[0], strict=True)},
        intercept=round(float(model.intercept_[0]), 4),
        threshold=0.5,
        named_threshold=0.5,
        share=0.6,
    )
    best, best_score = base, -1.0
    for threshold in THRESHOLDS:
        for named in THRESHOLDS:
            for share in SHARES:
                trial = replace(base, threshold=threshold, named_threshold=named, share=share)
                scores = measure(cases, trial)
                total = scores["top1"] + scores["multi_recall"] + scores["refusals"]
                if total > best_score + 1e-9:
                    best, best_score = trial, total
    return replace(best, fitted_on=fitted_on, questions=len(cases), scores=measure(cases, best))
