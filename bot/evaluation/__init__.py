"""`panelbot eval`: quality figures of the bot against a gold set (never read at run time).

A gold set is a directory laid out as `../shared/eval` (`speakers.yaml`, `people.yaml`,
`questions.yaml`, `debates.yaml`), scored on the sources the settings name. A corpus is a directory
of such sets, one per part (`tests/corpus/dev`, `tests/corpus/test`), each with its articles in
`sources/`: every part is ingested from scratch in a throwaway workspace and scored on its own.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.evaluation.attribution import score_attribution
from bot.evaluation.debates import score_debates
from bot.evaluation.gold import load_gold_people, load_gold_questions, load_gold_speakers
from bot.evaluation.questions import score_questions
from bot.persona.profile import quote_rows
from bot.settings import Settings

PARTS = ("dev", "test")


def run_eval(settings: Settings, path: Path) -> dict[str, Any]:
    """Score a gold set, or each part of a corpus (a directory holding `dev/` and `test/`)."""
    parts = [path / part for part in PARTS if (path / part / "speakers.yaml").exists()]
    if parts:
        return {part.name: score_part(settings, part) for part in parts}
    if (path / "sources").is_dir() and (path / "speakers.yaml").exists():
        return {path.name: score_part(settings, path)}  # one part of a corpus
    return score_set(settings, path)


def score_part(settings: Settings, part: Path) -> dict[str, Any]:
    """Ingest a corpus part's `sources/` into a temporary workspace and score it against its gold."""
    from bot.ingest.pipeline import ingest

    with tempfile.TemporaryDirectory(prefix="panelbot-eval-") as workspace:
        scratch = Path(workspace)
        local = settings.model_copy(
            update={
                "seeds_dir": part / "sources",
                "personas_dir": scratch / "personas",
                "data_dir": scratch / "data",
                "chroma_host": "",
                "database_url": "",
            }
        )
        started = time.perf_counter()
        report = ingest(local.seeds_dir, local.personas_dir, max_bytes=local.max_source_bytes)
        scores = score_set(local, part)
        scores["ingest"] = {**report.to_dict(), "eval_seconds": round(time.perf_counter() - started, 1)}
        return scores


def score_set(settings: Settings, path: Path) -> dict[str, Any]:
    """Score attribution, answers and debates against the gold set in `path` (a directory, or its questions file)."""
    from bot.panel import Panel

    eval_dir = path if path.is_dir() else path.parent
    if not (eval_dir / "speakers.yaml").exists():
        raise ConfigError(f"no evaluation set at {eval_dir}", user_message=f"找不到评测集：{eval_dir}")
    panel = Panel.open(settings)
    texts = {source_id: source.text for source_id, source in panel.sources.items()}
    spans = quote_rows(panel.registry)
    attribution = score_attribution(
        spans, texts, load_gold_speakers(eval_dir), people=load_gold_people(eval_dir)
    )
    questions = load_gold_questions(path if path.is_file() else eval_dir)
    return {
        "attribution": attribution.to_dict(),
        "questions": score_questions(questions, panel.ask, texts),
        "debates": score_debates(panel, eval_dir),
    }
