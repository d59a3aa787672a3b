"""`panelbot eval`: quality figures of the bot against a gold set (never read at run time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.evaluation.attribution import score_attribution
from bot.evaluation.debates import score_debates
from bot.evaluation.gold import load_gold_people, load_gold_questions, load_gold_speakers
from bot.evaluation.questions import score_questions
from bot.persona.profile import quote_rows
from bot.settings import Settings


def run_eval(settings: Settings, path: Path) -> dict[str, Any]:
    """Score attribution and answers against the gold set in `path` (a directory, or its questions file)."""
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
