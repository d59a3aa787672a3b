"""Asking questions end to end: real ingest, real Chroma, real embeddings, over made-up articles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.compose.answer import AskResult
from bot.ingest.pipeline import ingest
from bot.panel import Panel
from bot.settings import Settings

ARTICLES = Path(__file__).parent / "articles"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(ARTICLES, root / "seeds")
    settings = Settings(seeds_dir=root / "seeds", personas_dir=root / "personas", data_dir=root / "data")
    ingest(settings.seeds_dir, settings.personas_dir, max_bytes=settings.max_source_bytes)
    return settings


@pytest.fixture(scope="module")
def panel(settings: Settings) -> Iterator[Panel]:
    yield Panel.open(settings)


def verbatim(panel: Panel, result: AskResult) -> bool:
    return all(
        panel.sources[c.source].text[c.start : c.end] == c.quote for a in result.answers for c in a.citations
    )


def test_question_goes_to_the_persona_who_addressed_it(panel: Panel) -> None:
    result = panel.ask("国产芯片跟英伟达比，差距主要在哪里？")
    assert [r.name for r in result.route][:1] == ["钱文静"]
    assert result.answers[0].citations and verbatim(panel, result)
    assert "[1]" in result.answers[0].text


def test_paraphrase_with_slang_reaches_the_right_persona(panel: Panel) -> None:
    result = panel.ask("车机上的语音助手，星河智能接下来打算怎么做？")
    assert [r.name for r in result.route][:1] == ["赵启明"]


def test_nobody_addressed_it_gives_an_honest_refusal(panel: Panel) -> None:
    result = panel.ask("量子计算什么时候能商用？")
    assert (result.route, result.answers) == ((), ())
    assert "没有人谈过" in result.message


def test_named_persona_who_never_spoke_of_it_says_so(panel: Panel) -> None:
    result = panel.ask("赵启明平时喜欢什么运动？")
    assert (result.route, result.answers) == ((), ())
    assert result.message == "赵启明在这些资料里没有谈过这个问题。"


def test_named_persona_answers_in_first_person_with_citations(panel: Panel) -> None:
    result = panel.ask("周若华怎么看开源？")
    assert [r.name for r in result.route] == ["周若华"]
    assert result.answers[0].text.startswith("我在") and verbatim(panel, result)


def test_who_said_finds_the_exact_fragment(panel: Panel) -> None:
    result = panel.ask("“通用助手的竞争太激烈了”这句话是谁说的？")
    assert [r.name for r in result.route] == ["郑思远"]
    assert "通用助手的竞争太激烈了" in result.answers[0].citations[0].quote


def test_reported_speech_is_presented_as_reported(panel: Panel) -> None:
    result = panel.ask("冯晓雨认为现在判断AI应用的赢家还早吗？")
    answer = result.answers[0]
    reported = [c for c in answer.citations if c.kind == "reported"]
    assert reported and "（据报道）" in answer.text


def test_relayed_words_are_not_the_speakers_view_but_can_be_found(panel: Panel) -> None:
    view = panel.ask("欧阳博觉得芯片是十年磨一剑吗？")
    assert all("十年磨一剑" not in c.quote for a in view.answers for c in a.citations)
    found = panel.ask("“芯片是十年磨一剑的事”是谁说的？")
    assert [r.name for r in found.route] == ["欧阳博"]
    assert "转述" in found.answers[0].text


def test_ask_json_has_the_documented_shape(settings: Settings) -> None:
    env = {
        **os.environ,
        "SEEDS_DIR": str(settings.seeds_dir),
        "PERSONAS_DIR": str(settings.personas_dir),
        "DATA_DIR": str(settings.data_dir),
    }
    out = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "国产芯片和英伟达差距大吗？", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    ).stdout
    data = json.loads(out)
    assert list(data) == ["question", "mode", "route", "answers", "message"]
    assert data["mode"] == "extractive"
    assert list(data["route"][0]) == ["persona", "name", "score"]
    assert list(data["answers"][0]) == ["persona", "name", "text", "citations"]
    assert list(data["answers"][0]["citations"][0]) == ["n", "source", "start", "end", "kind", "quote"]
