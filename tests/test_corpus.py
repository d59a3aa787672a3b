"""The development corpus is consistent: every line labelled once, against the text as stored."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.ingest.sources import load_sources
from tests.corpus_labels import check

CORPUS = Path(__file__).parent / "corpus"
PARTS = ("dev", "test")


@pytest.mark.parametrize("part", PARTS)
def test_corpus_part_labels_are_consistent(part: str) -> None:
    assert check(CORPUS / part) == []


@pytest.mark.parametrize("part", PARTS)
def test_corpus_part_loads_as_sources_with_their_manifest(part: str) -> None:
    loaded = load_sources(CORPUS / part / "sources", max_bytes=5_000_000)
    assert loaded.errors == ()
    assert len(loaded.sources) >= 8
    assert all(source.meta.title and source.meta.url for source in loaded.sources)


def test_split_is_by_article_and_the_test_part_is_at_least_a_third() -> None:
    files = {part: {p.name for p in (CORPUS / part / "sources").glob("*.md")} for part in PARTS}
    assert not files["dev"] & files["test"]
    assert 3 * len(files["test"]) >= len(files["dev"]) + len(files["test"]) >= 24
    for part in PARTS:
        people = yaml.safe_load((CORPUS / part / "people.yaml").read_text(encoding="utf-8"))["people"]
        assert all(set(p["files"]) <= files[part] for p in people)


def test_checker_finds_a_wrong_label(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "a.md").write_text("记者：你好吗？\n\n张三：很好。\n", encoding="utf-8")
    (tmp_path / "people.yaml").write_text(
        "people:\n- {name: 张三, files: [a.md], direct_lines: 1}\n", encoding="utf-8"
    )
    (tmp_path / "speakers.yaml").write_text(
        "lines:\n"
        "- {file: a.md, line: 1, speaker: interviewer, head: 记者：你好吗}\n"
        "- {file: a.md, line: 2, speaker: 张三}\n",
        encoding="utf-8",
    )
    assert check(tmp_path) == ["a.md:2: speaker 张三 but the line is blank", "a.md:3: no label"]
