"""Attribution scores: attributed spans measured against the line-level gold labels.

A span's characters are judged by the label of the line they fall on; only non-whitespace
characters count, and each character counts once per (person, kind).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TypeVar

from bot.errors import SourceError
from bot.evaluation.gold import GoldLine, GoldPerson, line_spans

T = TypeVar("T")


ROLES = frozenset({"blank", "boilerplate", "interviewer", "narrator"})
"""Speaker labels that name a role rather than a person."""


FORBIDDEN = ("boilerplate", "interviewer", "narrator", "paraphrase_as_direct")
"""Rules whose broken characters are counted and listed as violations."""


MAX_VIOLATIONS = 20


@dataclass(frozen=True)
class PersonScore:
    """Attribution counts for one person."""

    direct_lines: int = 0
    covered: int = 0
    chars: int = 0
    precise_chars: int = 0

    @property
    def precision(self) -> float | None:
        """Share of the person's characters on lines the gold gives them; None without characters."""
        return self.precise_chars / self.chars if self.chars else None

    @property
    def recall(self) -> float | None:
        """Share of the person's direct lines covered; None without direct lines."""
        return self.covered / self.direct_lines if self.direct_lines else None


@dataclass(frozen=True)
class Violation:
    """Characters of one person's spans that break a rule on one line."""

    source: str
    line: int
    person: str
    rule: str
    chars: int


@dataclass(frozen=True)
class AttributionScore:
    """Precision, recall and rule violations of a set of attributed spans."""

    per_person: Mapping[str, PersonScore]
    forbidden_chars: Mapping[str, int]
    violations: tuple[Violation, ...]
    missing: tuple[str, ...]
    spurious: tuple[str, ...]

    @property
    def precision(self) -> float:
        """Character-weighted precision over everyone."""
        return _ratio(
            sum(p.precise_chars for p in self.per_person.values()),
            sum(p.chars for p in self.per_person.values()),
        )

    @property
    def recall(self) -> float:
        """Share of all direct lines covered."""
        return _ratio(
            sum(p.covered for p in self.per_person.values()),
            sum(p.direct_lines for p in self.per_person.values()),
        )

    @property
    def precision_macro(self) -> float:
        """Mean precision of the people who have characters."""
        return _mean(p.precision for p in self.per_person.values())

    @property
    def recall_macro(self) -> float:
        """Mean recall of the people who have direct lines."""
        return _mean(p.recall for p in self.per_person.values())

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary, figures rounded to 4 decimals, at most 20 violations."""
        return {
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "precision_macro": _round(self.precision_macro),
            "recall_macro": _round(self.recall_macro),
            "per_person": {
                name: {
                    "precision": _round(p.precision),
                    "recall": _round(p.recall),
                    "direct_lines": p.direct_lines,
                    "covered": p.covered,
                    "chars": p.chars,
                }
                for name, p in self.per_person.items()
            },
            "forbidden_chars": dict(self.forbidden_chars),
            "violations": [asdict(v) for v in self.violations[:MAX_VIOLATIONS]],
            "missing": list(self.missing),
            "spurious": list(self.spurious),
        }


def score_attribution(
    spans: Sequence[Mapping[str, object]],
    texts: Mapping[str, str],
    gold: Sequence[GoldLine],
    *,
    people: Sequence[GoldPerson] | None = None,
) -> AttributionScore:
    """Score spans shaped like ``panelbot quotes --json`` items on the sources the gold labels.

    Args:
        spans: attributed spans with ``name``, ``source``, ``start``, ``end`` and ``kind``.
        texts: source id -> decoded text the offsets index.
        gold: line labels; a source without labels is not scored.
        people: the roster from ``people.yaml``; without it, everyone the gold lines name.

    Raises:
        SourceError: a labelled source has no text, or fewer lines than its labels.
    """
    labels = {(g.source, g.line): g for g in gold}
    chars_by_line = {source: _line_chars(source, texts) for source in {g.source for g in gold}}
    for source, number in labels:
        if number > len(chars_by_line[source]):
            raise SourceError(f"gold line {number} is past the end of the text", path=source)

    marks: defaultdict[tuple[str, str, str], set[int]] = defaultdict(set)
    for span in spans:
        source = _get(span, "source", str)
        if source in chars_by_line:
            marks[source, _get(span, "name", str), _get(span, "kind", str)].update(
                range(_get(span, "start", int), _get(span, "end", int))
            )

    tally: Counter[tuple[str, str]] = Counter()  # (person, PersonScore field) -> count
    for g in gold:
        if g.speaker not in ROLES:
            line_chars = chars_by_line[g.source][g.line - 1]
            hit = sum(i in marks[g.source, g.speaker, "direct"] for i in line_chars)
            tally[g.speaker, "direct_lines"] += 1
            tally[g.speaker, "covered"] += bool(line_chars) and 2 * hit >= len(line_chars)

    forbidden = dict.fromkeys(FORBIDDEN, 0)
    violations: list[Violation] = []
    for (source, person, kind), chars in sorted(marks.items()):
        for number, line_chars in enumerate(chars_by_line[source], start=1):
            hit = sum(i in chars for i in line_chars)
            label = labels.get((source, number))
            if not hit or label is None:
                continue
            rule = _rule(label, person, kind)
            tally[person, "chars"] += hit
            tally[person, "precise_chars"] += hit if rule is None else 0
            if rule in forbidden:
                forbidden[rule] += hit
                violations.append(Violation(source, number, person, rule, hit))

    named = {person for _, person, _ in marks}
    if people is None:
        roster = {n for g in gold for n in (g.speaker, *g.reported, *g.quoted) if n not in ROLES}
        known = roster
    else:
        roster = {p.name for p in people if set(p.sources) & chars_by_line.keys()}
        known = {p.name for p in people}
    return AttributionScore(
        per_person={
            name: PersonScore(**{f.name: tally[name, f.name] for f in fields(PersonScore)})
            for name in sorted({name for name, _ in tally})
        },
        forbidden_chars=forbidden,
        violations=tuple(sorted(violations, key=lambda v: (v.source, v.line, v.person))),
        missing=tuple(sorted(roster - named)),
        spurious=tuple(sorted(named - known)),
    )


def format_attribution(score: AttributionScore) -> str:
    """Render a score as a compact table for a terminal."""
    rows = [
        f"attribution  precision {_show(score.precision)} (macro {_show(score.precision_macro)})"
        f"  recall {_show(score.recall)} (macro {_show(score.recall_macro)})",
        f"{'precision':>9} {'recall':>7} {'covered':>9} {'chars':>6}  person",
    ]
    for name, p in score.per_person.items():
        covered = f"{p.covered}/{p.direct_lines}"
        rows.append(f"{_show(p.precision):>9} {_show(p.recall):>7} {covered:>9} {p.chars:>6}  {name}")
    rows.append("forbidden chars: " + ", ".join(f"{k} {v}" for k, v in score.forbidden_chars.items()))
    rows += [
        f"  {v.source}:{v.line} {v.person} {v.rule} ({v.chars} chars)"
        for v in score.violations[:MAX_VIOLATIONS]
    ]
    rows.append(f"missing: {'、'.join(score.missing) or '-'}")
    rows.append(f"spurious: {'、'.join(score.spurious) or '-'}")
    return "\n".join(rows)


def _rule(label: GoldLine, person: str, kind: str) -> str | None:
    """Return None if a person's span of this kind may cover the line, else the rule it breaks."""
    if label.speaker in ("boilerplate", "interviewer"):
        return label.speaker  # titles quoting someone are still never quotable
    if label.speaker == person:
        return None
    if label.speaker != "narrator":
        return "other_speaker"
    if person in label.quoted or (kind == "reported" and person in label.reported):
        return None
    return "paraphrase_as_direct" if kind == "direct" and person in label.reported else "narrator"


def _line_chars(source: str, texts: Mapping[str, str]) -> list[list[int]]:
    """Return, per line of a source, the offsets of its non-whitespace characters."""
    if source not in texts:
        raise SourceError("no text for a source the gold labels", path=source)
    text = texts[source]
    return [[i for i in range(start, end) if not text[i].isspace()] for start, end in line_spans(text)]


def _get(span: Mapping[str, object], key: str, kind: type[T]) -> T:
    value = span[key]
    if not isinstance(value, kind):
        raise TypeError(f"span field {key!r} should be {kind.__name__}, got {value!r}")
    return value


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _mean(values: Iterable[float | None]) -> float:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else 0.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
