"""The ingest pipeline end to end: sources on disk → verified persona profiles on disk."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from bot.ingest import pipeline
from bot.ingest.pipeline import ingest
from bot.ingest.sources import load_sources
from bot.ingest.span import Attribution, Span
from bot.persona.profile import load_personas

ARTICLES = Path(__file__).parent / "articles"
MAX_BYTES = 1_000_000


def seed_dir(tmp_path: Path, *names: str) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in names:
        shutil.copy(ARTICLES / name, seeds / name)
    return seeds


def texts_of(seeds: Path) -> dict[str, str]:
    return {s.id: s.text for s in load_sources(seeds, max_bytes=MAX_BYTES).sources}


def test_ingest_writes_verified_profiles(tmp_path: Path) -> None:
    seeds = seed_dir(tmp_path, "qa_interview.txt", "salon.txt", "news.txt")
    report = ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    personas = load_personas(tmp_path / "personas", texts=texts_of(seeds))
    assert sorted(p.name for p in personas) == ["冯晓雨", "孙立文", "欧阳博", "赵启明", "郑思远", "钱文静"]
    assert (report.sources, report.personas, sorted(report.added)) == (3, 6, sorted(p.id for p in personas))
    assert {p.id for p in personas} >= {"zhao-qi-ming", "ou-yang-bo", "qian-wen-jing"}


def test_reingest_of_unchanged_sources_changes_nothing(tmp_path: Path) -> None:
    seeds = seed_dir(tmp_path, "salon.txt", "speech.txt")
    ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    before = {p.name: p.read_bytes() for p in (tmp_path / "personas").iterdir()}
    report = ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    after = {p.name: p.read_bytes() for p in (tmp_path / "personas").iterdir()}
    assert after == before
    assert (report.added, report.changed, report.removed) == ([], [], [])


def test_curated_fields_survive_reingest(tmp_path: Path) -> None:
    seeds = seed_dir(tmp_path, "salon.txt")
    ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    path = tmp_path / "personas" / "qian-wen-jing.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["bio"] = "手写的简介。"
    data["aliases"] = ["文静"]
    data["curated"] = ["bio", "aliases"]
    data["topics"] = ["过时的话题"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    (persona,) = [
        p for p in load_personas(tmp_path / "personas", texts=texts_of(seeds)) if p.name == "钱文静"
    ]
    assert persona.bio == "手写的简介。"
    assert persona.aliases[:2] == ["文静", "钱总"]
    assert persona.topics != ["过时的话题"]


def test_bad_source_is_reported_and_others_still_load(tmp_path: Path) -> None:
    seeds = seed_dir(tmp_path, "speech.txt")
    (seeds / "empty.txt").write_bytes(b"")
    (seeds / "nobody.txt").write_text("今天天气很好。\n\n明天也许会下雨。\n", encoding="utf-8")
    report = ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    assert report.personas == 1
    assert len(report.errors) == 2
    assert any("empty.txt" in e for e in report.errors)
    assert any("nobody.txt" in e and "发言人" in e for e in report.errors)


def test_gbk_source_is_attributed_with_offsets_into_its_decoded_text(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    text = (ARTICLES / "qa_interview.txt").read_text(encoding="utf-8")
    (seeds / "gbk_interview.txt").write_bytes(text.encode("gbk"))
    ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    (persona,) = load_personas(tmp_path / "personas", texts=texts_of(seeds))
    assert persona.name == "赵启明"
    assert [q.text for q in persona.quotes][1] == "价格战对行业是好事，它逼着所有人把推理成本降下来。"
    assert all(text[q.start : q.end] == q.text for q in persona.quotes)


def test_removed_person_loses_their_profile(tmp_path: Path) -> None:
    seeds = seed_dir(tmp_path, "speech.txt", "qa_interview.txt")
    ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    (seeds / "speech.txt").unlink()
    report = ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES)
    assert report.removed == ["zhou-ruo-hua"]
    assert sorted(p.name for p in (tmp_path / "personas").iterdir()) == ["zhao-qi-ming.yaml"]


def test_committed_profiles_are_verbatim_at_their_spans() -> None:
    texts = texts_of(Path("seeds"))
    personas = load_personas(Path("personas"), texts=texts)
    assert len(personas) == 14
    for persona in personas:
        for quote in persona.quotes:
            assert texts[quote.source][quote.start : quote.end] == quote.text


def test_committed_profiles_match_a_fresh_ingest(tmp_path: Path) -> None:
    shutil.copytree("personas", tmp_path / "personas")
    report = ingest(Path("seeds"), tmp_path / "personas", max_bytes=MAX_BYTES)
    assert (report.added, report.changed, report.removed) == ([], [], [])


def test_reingest_attributes_only_the_sources_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = seed_dir(tmp_path, "qa_interview.txt", "salon.txt", "news.txt")
    cache = tmp_path / "cache"
    attributed: list[str] = []
    real = pipeline.attribute_speakers

    def counting(source_id: str, text: str, boilerplate: Iterable[Span]) -> Attribution:
        attributed.append(source_id)
        return real(source_id, text, boilerplate)

    monkeypatch.setattr(pipeline, "attribute_speakers", counting)
    first = ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES, cache_dir=cache)
    assert sorted(attributed) == ["news", "qa_interview", "salon"]
    before = {p.name: p.read_bytes() for p in (tmp_path / "personas").iterdir()}

    attributed.clear()
    again = ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES, cache_dir=cache)
    assert attributed == []
    assert (again.sources, again.personas, again.quotes) == (first.sources, first.personas, first.quotes)
    assert {p.name: p.read_bytes() for p in (tmp_path / "personas").iterdir()} == before

    salon = seeds / "salon.txt"
    salon.write_text(
        salon.read_text(encoding="utf-8") + "\n孙立文：最后补充一句，活下来最重要。\n", encoding="utf-8"
    )
    ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES, cache_dir=cache)
    assert attributed == ["salon"]
    assert len(list((cache / "attributions").glob("*.json"))) == 3  # the old salon entry was pruned


def test_a_hand_edited_profile_is_rebuilt_even_when_the_sources_did_not_change(tmp_path: Path) -> None:
    seeds = seed_dir(tmp_path, "qa_interview.txt")
    cache = tmp_path / "cache"
    ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES, cache_dir=cache)
    (path,) = (tmp_path / "personas").glob("*.yaml")
    path.unlink()
    report = ingest(seeds, tmp_path / "personas", max_bytes=MAX_BYTES, cache_dir=cache)
    assert report.added == [path.stem] and path.exists()
