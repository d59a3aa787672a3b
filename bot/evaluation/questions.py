"""Routing and answer scores: the panel's answers to gold questions.

* top-1: the first routed persona is an expected one (kinds `single`, `named`, `who_said`);
* multi recall: share of the expected personas that are routed (kind `multi`);
* refusals: no persona answers (kind `out_of_scope`);
* supporting-line hit: an answer cites a span that overlaps one of the question's supporting lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.compose.answer import AskResult
from bot.evaluation.gold import GoldQuestion, Ref, line_spans

TOP1_KINDS = ("single", "named", "who_said")


def score_questions(
    questions: Sequence[GoldQuestion], ask: Callable[[str], AskResult], texts: Mapping[str, str]
) -> dict[str, Any]:
    """Ask every question and score the routes and citations against the gold."""
    lines = {source: line_spans(text) for source, text in texts.items()}
    top1: list[bool] = []
    recall: list[float] = []
    refused: list[bool] = []
    supported: list[bool] = []
    rows: list[dict[str, Any]] = []
    for question in questions:
        result = ask(question.question)
        routed = [entry.name for entry in result.route]
        expected = set(question.expected_personas)
        row: dict[str, Any] = {"id": question.id, "kind": question.kind, "routed": routed}
        if question.kind in TOP1_KINDS:
            row["top1"] = bool(routed) and routed[0] in expected
            top1.append(row["top1"])
        elif question.kind == "multi":
            row["recall"] = len(expected & set(routed)) / len(expected)
            recall.append(row["recall"])
        elif question.kind == "out_of_scope":
            row["refused"] = not result.answers
            refused.append(row["refused"])
        if question.supporting and result.answers:
            row["supported"] = _cites_any(result, question.supporting, lines)
            supported.append(row["supported"])
        rows.append(row)
    return {
        "top1": _mean(top1),
        "multi_recall": _mean(recall),
        "refusals": _mean(refused),
        "supporting_hit": _mean(supported),
        "counts": {
            "top1": len(top1),
            "multi": len(recall),
            "out_of_scope": len(refused),
            "answered": len(supported),
        },
        "misses": [
            r
            for r in rows
            if r.get("top1") is False
            or r.get("refused") is False
            or r.get("recall", 1) < 1
            or r.get("supported") is False
        ],
    }


def _cites_any(result: AskResult, refs: Sequence[Ref], lines: Mapping[str, list[tuple[int, int]]]) -> bool:
    """Whether any citation of any answer overlaps one of the referenced lines."""
    for source, number in refs:
        if source not in lines or not 0 < number <= len(lines[source]):
            continue
        start, end = lines[source][number - 1]
        for answer in result.answers:
            if any(c.source == source and c.start < end and start < c.end for c in answer.citations):
                return True
    return False


def _mean(values: Sequence[float]) -> float | None:
    """Average, or None when there is nothing to average."""
    return round(sum(values) / len(values), 4) if values else None
