"""Debate scores: each gold debate staged with no named personas, its sides checked against the gold.

* people placed: share of the gold `pro` and `con` people whose position is that side (seated or
  not: a side seats at most two, and a persona's position is what the classifier found);
* seated: share of the gold people seated in `sides` on their gold side (the others are not seated);
* every turn citing: share of persona turns with at least one citation (the honest
  “no material” line excluded);
* verbatim: share of all citations (persona and moderator) whose quote is exactly its span;
* repeats: persona turns citing a span that overlaps one cited earlier in the same debate;
* map placed: share of the gold people (pro, con and neutral) the stance map shows on their side;
* map verbatim: share of the map's citations whose quote is exactly its span.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.evaluation.gold import GoldDebate, load_gold_debates

if TYPE_CHECKING:
    from bot.debate import Debate
    from bot.panel import Panel


def score_debates(panel: Panel, eval_dir: Path) -> dict[str, Any]:
    """Stage every debate of `eval_dir/debates.yaml` on the panel and score it (empty without the file)."""
    from bot.debate import stage_debate

    if not (eval_dir / "debates.yaml").exists():
        return {}
    texts = {source_id: source.text for source_id, source in panel.sources.items()}
    return score_staged(load_gold_debates(eval_dir), lambda p: stage_debate(panel, p), texts)


def score_staged(
    debates: Sequence[GoldDebate], stage: Callable[[str], Debate], texts: Mapping[str, str]
) -> dict[str, Any]:
    """Stage each gold proposition and compare sides, citations and repeats with the gold."""
    from bot.debate.stage import SILENT
    from bot.debate.stance_map import map_of
    from bot.debate.transcript import MODERATOR_ID

    placed: list[bool] = []
    seated: list[bool] = []
    citing: list[bool] = []
    verbatim: list[bool] = []
    repeats = 0
    mapped: list[bool] = []
    map_verbatim: list[bool] = []
    rows: list[dict[str, Any]] = []
    for gold in debates:
        debate = stage(gold.proposition)
        stance = {p.persona.name: p.stance for p in debate.positions}
        names = {p.persona.id: p.persona.name for p in debate.positions}
        sides = {names.get(i, i): "pro" for i in debate.pro} | {names.get(i, i): "con" for i in debate.con}
        people = [(name, "pro") for name in gold.pro] + [(name, "con") for name in gold.con]
        right = {name: stance.get(name) == side for name, side in people}
        placed += right.values()
        found = map_of(gold.proposition, debate.positions, texts)
        on_map = {p.name: p.stance for p in found.positions}
        everyone = people + [(name, "neutral") for name in gold.neutral]
        mapped += [on_map.get(name) == side for name, side in everyone]
        map_verbatim += [texts.get(c.source, "")[c.start : c.end] == c.quote for p in found.positions for c in p.citations]
        seated += [sides.get(name) == side for name, side in people]
        turns = [t for t in debate.turns if t.persona != MODERATOR_ID and t.text != SILENT]
        citing += [bool(t.citations) for t in turns]
        cited = [c for t in debate.turns for c in t.citations]
        verbatim += [texts.get(c.source, "")[c.start : c.end] == c.quote for c in cited]
        spans: list[tuple[str, int, int]] = []
        for turn in turns:
            for c in turn.citations:
                repeats += any(s == c.source and a < c.end and c.start < b for s, a, b in spans)
            spans += [(c.source, c.start, c.end) for c in turn.citations]
        rows.append(
            {
                "id": gold.id,
                "proposition": gold.proposition,
                "sides": {
                    "pro": [names.get(i, i) for i in debate.pro],
                    "con": [names.get(i, i) for i in debate.con],
                },
                "gold": {"pro": list(gold.pro), "con": list(gold.con)},
                "placed": {name: stance.get(name, "absent") for name, _ in people},
                "map": {name: on_map.get(name, "absent") for name, _ in everyone},
                "right": right,
                "turns": len(debate.turns),
                "persona_turns": len(turns),
                "citing": _mean([bool(t.citations) for t in turns]),
            }
        )
    return {
        "people_placed": _mean(placed),
        "seated": _mean(seated),
        "every_turn_citing": _mean(citing),
        "verbatim": _mean(verbatim),
        "repeats": repeats,
        "map_placed": _mean(mapped),
        "map_verbatim": _mean(map_verbatim),
        "counts": {
            "debates": len(debates),
            "people": len(placed),
            "map_people": len(mapped),
            "persona_turns": len(citing),
        },
        "debates": rows,
    }


def _mean(values: Sequence[bool]) -> float | None:
    """Share of true values, or None when there are none."""
    return round(sum(values) / len(values), 4) if values else None
