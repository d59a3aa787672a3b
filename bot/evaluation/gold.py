"""Gold labels of an evaluation set: speakers per line, people, questions and debates.

Gold line numbers are ``cat -n`` numbers (1-based, lines split at newlines); gold files are named
``<source id>.txt``. These files measure the bot; it never reads them at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Ref = tuple[str, int]
"""A gold line: (source id, ``cat -n`` line number)."""


@dataclass(frozen=True)
class GoldLine:
    """Who speaks on one line of a source."""

    source: str
    line: int
    speaker: str  # a person's name, or one of ROLES
    reported: tuple[str, ...] = ()  # people whose views a narrator line paraphrases
    quoted: tuple[str, ...] = ()  # people whose “quoted” words a narrator or title line carries


@dataclass(frozen=True)
class GoldPerson:
    """Someone who states views in the gold sources."""

    name: str
    sources: tuple[str, ...]
    direct_lines: int


@dataclass(frozen=True)
class GoldQuestion:
    """A user question with the personas that should answer it."""

    id: str
    kind: str  # single | multi | named | who_said | out_of_scope
    question: str
    expected_personas: tuple[str, ...]
    best: str | None
    supporting: tuple[Ref, ...]


@dataclass(frozen=True)
class GoldDebate:
    """A contested proposition with the people on each side."""

    id: str
    proposition: str
    pro: tuple[str, ...]
    con: tuple[str, ...]
    refs: Mapping[str, tuple[Ref, ...]]  # name -> lines stating that person's side
    neutral: tuple[str, ...] = ()
    """People who addressed the proposition without taking a side (conditional, partial, undecided)."""


def load_gold_speakers(eval_dir: Path) -> list[GoldLine]:
    """Read ``speakers.yaml``; ``reported``/``quoted`` may be a name or a list of names."""
    return [
        GoldLine(
            source=Path(row["file"]).stem,
            line=int(row["line"]),
            speaker=str(row["speaker"]),
            reported=_names(row.get("reported")),
            quoted=_names(row.get("quoted")),
        )
        for row in _read(eval_dir / "speakers.yaml", "lines")
    ]


def load_gold_people(eval_dir: Path) -> list[GoldPerson]:
    """Read the people who state views from ``people.yaml`` (not those only mentioned)."""
    return [
        GoldPerson(
            name=str(row["name"]),
            sources=tuple(Path(f).stem for f in row.get("files") or ()),
            direct_lines=int(row.get("direct_lines") or 0),
        )
        for row in _read(eval_dir / "people.yaml", "people")
    ]


def load_gold_questions(eval_dir: Path) -> list[GoldQuestion]:
    """Read ``questions.yaml`` of a directory, or a questions file given directly."""
    return [
        GoldQuestion(
            id=str(row["id"]),
            kind=str(row["kind"]),
            question=str(row["question"]),
            expected_personas=_names(row.get("expected_personas")),
            best=None if row.get("best") is None else str(row["best"]),
            supporting=tuple(_ref(r) for r in row.get("supporting") or ()),
        )
        for row in _read(eval_dir if eval_dir.is_file() else eval_dir / "questions.yaml", "questions")
    ]


def load_gold_debates(eval_dir: Path) -> list[GoldDebate]:
    """Read ``debates.yaml``; ``refs`` covers the people on the pro and con sides."""
    debates = []
    for row in _read(eval_dir / "debates.yaml", "debates"):
        pro, con = list(row.get("pro") or ()), list(row.get("con") or ())
        debates.append(
            GoldDebate(
                id=str(row["id"]),
                proposition=str(row["proposition"]),
                pro=tuple(str(p["name"]) for p in pro),
                con=tuple(str(p["name"]) for p in con),
                refs={str(p["name"]): tuple(_ref(r) for r in p.get("refs") or ()) for p in pro + con},
                neutral=tuple(str(p["name"]) for p in row.get("neutral") or ()),
            )
        )
    return debates


def line_spans(text: str) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` of each line, newline excluded, numbered as ``cat -n`` numbers them."""
    spans, start = [], 0
    for line in text.split("\n"):
        spans.append((start, start + len(line)))
        start += len(line) + 1
    if len(spans) > 1 and text.endswith("\n"):
        spans.pop()  # cat -n numbers no line after a final newline
    return spans


def _read(path: Path, key: str) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return list(data.get(key) or ())


def _names(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value or ())


def _ref(value: str) -> Ref:
    file, _, line = str(value).rpartition(":")
    return Path(file).stem, int(line)
