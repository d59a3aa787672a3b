"""Persona profiles: models, slugs, curated merging, verified YAML i/o and the registry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.errors import PersonaError, QuoteNotVerbatimError, UnknownPersonaError
from bot.persona.profile import (
    Persona,
    Quote,
    Stance,
    Style,
    dump_persona,
    load_persona,
    load_personas,
    merge_curated,
    slugify,
    verify_quotes,
    write_persona,
)
from bot.persona.registry import PersonaRegistry

TEXTS = {
    "001_salon": (
        "文/小编\n\n"
        "主持人：你怎么看大模型？\n"
        "李涛：我觉得算力是个纸老虎，很快就会被解决。\n"
        "李开复：中国的大模型还要追赶，但我们要相信年轻人。\n"
        "记者注意到，方汉表示开源是最重要的路线。\n"
    ),
    "002_speech": "于千城说：“数据是新的石油。”\n蒋镒珍：我们要做长期主义者，\n不追风口。\n",
}


def span(source: str, text: str) -> tuple[int, int]:
    start = TEXTS[source].index(text)
    return start, start + len(text)


def quote(quote_id: str, source: str, text: str, **extra: object) -> Quote:
    start, end = span(source, text)
    return Quote.model_validate(
        {
            "id": quote_id,
            "source": source,
            "start": start,
            "end": end,
            "kind": "direct",
            "text": text,
            **extra,
        }
    )


def persona(persona_id: str, name: str, quotes: list[Quote], **fields: object) -> Persona:
    data: dict[str, object] = {
        "id": persona_id,
        "name": name,
        "aliases": [],
        "title": "",
        "org": "",
        "bio": "",
        "sources": sorted({q.source for q in quotes}),
        "topics": [],
        "stances": [],
        "quotes": quotes,
        "style": Style(),
    }
    return Persona.model_validate(data | fields)


@pytest.fixture
def li_tao() -> Persona:
    return persona(
        "li-tao",
        "李涛",
        [
            quote("q001", "001_salon", "我觉得算力是个纸老虎，很快就会被解决。"),
            quote("q002", "001_salon", "你怎么看大模型？", role="question"),
        ],
        aliases=["APUS李涛", "Tao Li"],
        title="APUS创始人兼CEO",
        org="APUS",
        bio="APUS创始人。\n多年从事移动互联网：yes",
        topics=["算力"],
        stances=[Stance(topic="算力", claim="算力是个纸老虎。", quotes=["q001"])],
        style=Style(register="short sentences", phrases=["我觉得"]),
    )


@pytest.fixture
def personas(li_tao: Persona) -> list[Persona]:
    return [
        li_tao,
        persona(
            "li-kai-fu",
            "李开复",
            [quote("q001", "001_salon", "中国的大模型还要追赶，但我们要相信年轻人。")],
            aliases=["开复", "Kai-Fu Lee"],
        ),
        persona(
            "fang-han",
            "方汉",
            [quote("q001", "001_salon", "开源是最重要的路线。", kind="reported")],
            aliases=["老方"],
        ),
        persona(
            "yu-qian-cheng", "于千城", [quote("q001", "002_speech", "数据是新的石油。")], aliases=["李开"]
        ),
    ]


# -- YAML round trip -----------------------------------------------------


def test_dump_load_round_trip_is_byte_identical(li_tao: Persona, tmp_path: Path) -> None:
    path = write_persona(li_tao, tmp_path)
    loaded = load_persona(path, texts=TEXTS)
    assert loaded == li_tao
    assert dump_persona(loaded) == path.read_text(encoding="utf-8")
    assert path.name == "li-tao.yaml"


def test_dump_persona_omits_default_quote_extensions(li_tao: Persona) -> None:
    text = dump_persona(li_tao)
    assert text.count("role:") == 1
    assert "role: question" in text
    assert "relayed_from" not in text
    assert text.startswith("id: li-tao\nname: 李涛\n")


def test_dump_persona_keeps_relayed_quote_fields() -> None:
    relayed = quote("q001", "002_speech", "数据是新的石油。", role="relayed", relayed_from="某位前辈")
    loaded = Persona.model_validate_json(persona("yu-qian-cheng", "于千城", [relayed]).model_dump_json())
    assert "relayed_from: 某位前辈" in dump_persona(loaded)
    assert loaded.quotes[0].relayed_from == "某位前辈"


def test_write_persona_leaves_unchanged_file_untouched(li_tao: Persona, tmp_path: Path) -> None:
    path = write_persona(li_tao, tmp_path)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.read_bytes()

    assert write_persona(li_tao, tmp_path) == path
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["li-tao.yaml"]


def test_write_persona_rewrites_changed_file(li_tao: Persona, tmp_path: Path) -> None:
    path = write_persona(li_tao, tmp_path)
    changed = li_tao.model_copy(update={"bio": "新的简介"})
    write_persona(changed, tmp_path)
    assert load_persona(path, texts=TEXTS).bio == "新的简介"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["li-tao.yaml"]


def test_load_personas_sorted_by_id(personas: list[Persona], tmp_path: Path) -> None:
    for p in personas:
        write_persona(p, tmp_path)
    assert [p.id for p in load_personas(tmp_path, texts=TEXTS)] == [
        "fang-han",
        "li-kai-fu",
        "li-tao",
        "yu-qian-cheng",
    ]


def test_load_personas_raises_on_one_corrupted_file(personas: list[Persona], tmp_path: Path) -> None:
    for p in personas:
        write_persona(p, tmp_path)
    path = tmp_path / "fang-han.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("开源是最重要", "闭源是最重要"), encoding="utf-8"
    )
    with pytest.raises(QuoteNotVerbatimError):
        load_personas(tmp_path, texts=TEXTS)


def test_load_personas_rejects_file_named_for_another_id(li_tao: Persona, tmp_path: Path) -> None:
    (tmp_path / "someone.yaml").write_text(dump_persona(li_tao), encoding="utf-8")
    with pytest.raises(PersonaError, match="someone.yaml"):
        load_personas(tmp_path, texts=TEXTS)


# -- quote verification ------------------------------------------------------


def tamper(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_load_persona_rejects_changed_quote_text(li_tao: Persona, tmp_path: Path) -> None:
    path = write_persona(li_tao, tmp_path)
    tamper(path, "算力是个纸老虎，很快", "算力是个真老虎，很快")
    with pytest.raises(QuoteNotVerbatimError) as error:
        load_persona(path, texts=TEXTS)
    assert (error.value.persona, error.value.quote, error.value.source) == ("li-tao", "q001", "001_salon")
    assert all(part in str(error.value) for part in ("li-tao", "q001", "001_salon"))


@pytest.mark.parametrize("shift", [-1, 1])
def test_load_persona_rejects_shifted_offsets(li_tao: Persona, tmp_path: Path, shift: int) -> None:
    start, end = li_tao.quotes[0].start, li_tao.quotes[0].end
    path = write_persona(li_tao, tmp_path)
    tamper(path, f"start: {start}\n  end: {end}\n", f"start: {start + shift}\n  end: {end + shift}\n")
    with pytest.raises(QuoteNotVerbatimError, match=r"li-tao.*q001.*001_salon"):
        load_persona(path, texts=TEXTS)


def test_load_persona_rejects_unknown_source(li_tao: Persona, tmp_path: Path) -> None:
    path = write_persona(li_tao, tmp_path)
    with pytest.raises(QuoteNotVerbatimError, match="001_salon") as error:
        load_persona(path, texts={"002_speech": TEXTS["002_speech"]})
    assert error.value.quote == "q001"


def test_verify_quotes_rejects_span_past_end(li_tao: Persona) -> None:
    short = {"001_salon": TEXTS["001_salon"][:10]}
    with pytest.raises(QuoteNotVerbatimError, match="past the end"):
        verify_quotes(li_tao, short)


def test_verify_quotes_accepts_verbatim_quotes(li_tao: Persona) -> None:
    verify_quotes(li_tao, TEXTS)


# -- model validation ----------------------------------------------------------


def test_load_persona_rejects_extra_field(li_tao: Persona, tmp_path: Path) -> None:
    path = write_persona(li_tao, tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + "mood: happy\n", encoding="utf-8")
    with pytest.raises(PersonaError, match="li-tao.yaml") as error:
        load_persona(path, texts=TEXTS)
    assert not isinstance(error.value, QuoteNotVerbatimError)


def test_load_persona_rejects_missing_field(li_tao: Persona, tmp_path: Path) -> None:
    path = write_persona(li_tao, tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("quotes:\n- id")], encoding="utf-8")
    with pytest.raises(PersonaError, match="quotes"):
        load_persona(path, texts=TEXTS)


def test_load_persona_rejects_duplicate_yaml_key(li_tao: Persona, tmp_path: Path) -> None:
    path = write_persona(li_tao, tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + "bio: 又一个简介\n", encoding="utf-8")
    with pytest.raises(PersonaError, match="duplicate key"):
        load_persona(path, texts=TEXTS)


def test_load_persona_rejects_broken_yaml(tmp_path: Path) -> None:
    path = tmp_path / "li-tao.yaml"
    path.write_text("id: li-tao\nname: [李涛\n", encoding="utf-8")
    with pytest.raises(PersonaError, match="li-tao.yaml"):
        load_persona(path, texts=TEXTS)


def test_quote_rejects_extra_field() -> None:
    with pytest.raises(ValueError, match="extra"):
        Quote.model_validate(
            {"id": "q1", "source": "s", "start": 0, "end": 1, "kind": "direct", "text": "a", "x": 1}
        )


@pytest.mark.parametrize("bad_id", ["Li-Tao", "li_tao", "李涛", "li--tao", "-li", "li-", ""])
def test_persona_rejects_bad_slug(bad_id: str) -> None:
    with pytest.raises(ValueError, match="id"):
        persona(bad_id, "李涛", [])


@pytest.mark.parametrize(("start", "end"), [(5, 5), (6, 5), (-1, 3)])
def test_quote_rejects_bad_offsets(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="start"):
        Quote(id="q1", source="s", start=start, end=end, kind="direct", text="x")


def test_persona_rejects_duplicate_quote_ids() -> None:
    quotes = [quote("q001", "001_salon", "算力是个纸老虎"), quote("q001", "001_salon", "很快就会被解决")]
    with pytest.raises(ValueError, match="duplicate quote id 'q001'"):
        persona("li-tao", "李涛", quotes)


def test_persona_rejects_stance_citing_missing_quote() -> None:
    stance = Stance(topic="算力", claim="算力是个纸老虎。", quotes=["q001", "q404"])
    with pytest.raises(ValueError, match="q404"):
        persona("li-tao", "李涛", [quote("q001", "001_salon", "算力是个纸老虎")], stances=[stance])


def test_persona_rejects_unknown_curated_field() -> None:
    with pytest.raises(ValueError, match="curated"):
        persona("li-tao", "李涛", [], curated=["quotes"])


# -- curated fields ------------------------------------------------------------


def test_merge_curated_keeps_curated_fields_and_refreshes_the_rest(li_tao: Persona) -> None:
    existing = li_tao.model_copy(
        update={
            "id": "tao",
            "bio": "手写的简介",
            "aliases": ["涛哥", "APUS李涛"],
            "stances": [
                Stance(topic="算力", claim="手写：算力不是瓶颈。", quotes=["q001", "q002"]),
            ],
            "curated": ["bio", "stances", "aliases"],
        }
    )
    fresh = persona(
        "li-tao",
        "李涛",
        [
            quote("q001", "001_salon", "我觉得算力是个纸老虎，很快就会被解决。"),
            quote("q003", "001_salon", "很快就会被解决"),
        ],
        aliases=["APUS李涛", "李总"],
        title="APUS董事长",
        bio="机器生成的简介",
        topics=["纸老虎"],
        stances=[Stance(topic="纸老虎", claim="机器生成", quotes=["q003"])],
    )

    merged = merge_curated(fresh, existing)

    assert merged.id == "tao"
    assert merged.bio == "手写的简介"
    assert merged.aliases == ["涛哥", "APUS李涛", "李总"]
    assert merged.stances == [Stance(topic="算力", claim="手写：算力不是瓶颈。", quotes=["q001"])]
    assert merged.curated == ["bio", "stances", "aliases"]
    assert [q.id for q in merged.quotes] == ["q001", "q003"]
    assert merged.topics == ["纸老虎"]
    assert merged.title == "APUS董事长"
    assert merged.style == Style()


def test_merge_curated_without_curated_fields_takes_fresh_values_but_keeps_id(li_tao: Persona) -> None:
    fresh = li_tao.model_copy(update={"id": "li-tao-2", "bio": "新的"})
    merged = merge_curated(fresh, li_tao)
    assert merged == fresh.model_copy(update={"id": "li-tao"})


def test_merge_curated_without_existing_returns_fresh(li_tao: Persona) -> None:
    assert merge_curated(li_tao, None) == li_tao


# -- slugs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("李涛", "li-tao"),
        ("方汉", "fang-han"),
        ("李开复", "li-kai-fu"),
        ("于千城", "yu-qian-cheng"),
        ("蒋镒珍", "jiang-yi-zhen"),
        ("Sam Altman", "sam-altman"),
        ("José Núñez", "jose-nunez"),
        ("曾鸣", "zeng-ming"),
        ("单田芳", "shan-tian-fang"),
        ("尉迟恭", "yu-chi-gong"),
        ("吕布", "lv-bu"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name, taken=set()) == slug


def test_slugify_appends_number_on_collision() -> None:
    taken = {"li-tao"}
    assert slugify("李涛", taken=taken) == "li-tao-2"
    assert slugify("李涛", taken={"li-tao", "li-tao-2"}) == "li-tao-3"
    assert taken == {"li-tao"}


def test_slugify_falls_back_for_name_without_letters() -> None:
    assert slugify("！？", taken=set()) == "persona"


# -- registry ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["li-tao", "LI-TAO", "李涛", "APUS李涛", "@APUS李涛", "@li-tao", "tao li", " @Tao  Li "]
)
def test_registry_get_resolves_id_name_and_alias(personas: list[Persona], key: str) -> None:
    assert PersonaRegistry(personas).get(key).id == "li-tao"


def test_registry_get_unknown_raises_with_key(personas: list[Persona]) -> None:
    with pytest.raises(UnknownPersonaError) as error:
        PersonaRegistry(personas).get("马云")
    assert error.value.key == "马云"
    assert "马云" in str(error.value)
    assert "马云" in error.value.user_message


def test_registry_shared_alias_resolves_to_nobody(li_tao: Persona) -> None:
    other = persona("li-tao-2", "李涛", [quote("q001", "002_speech", "不追风口。")])
    registry = PersonaRegistry([li_tao, other])
    with pytest.raises(UnknownPersonaError):
        registry.get("李涛")
    assert registry.get("li-tao-2") is other
    assert registry.find_mentions("李涛说") == []


def test_registry_rejects_duplicate_ids(li_tao: Persona) -> None:
    with pytest.raises(PersonaError, match="li-tao"):
        PersonaRegistry([li_tao, li_tao])


def test_registry_basics(personas: list[Persona]) -> None:
    registry = PersonaRegistry(personas)
    assert len(registry) == 4
    assert [p.id for p in registry] == ["li-tao", "li-kai-fu", "fang-han", "yu-qian-cheng"]
    assert registry.ids == ["li-tao", "li-kai-fu", "fang-han", "yu-qian-cheng"]
    assert "@老方" in registry
    assert "马云" not in registry


def test_registry_quote(personas: list[Persona]) -> None:
    registry = PersonaRegistry(personas)
    assert registry.quote("fang-han", "q001").text == "开源是最重要的路线。"
    with pytest.raises(PersonaError, match="q999"):
        registry.quote("fang-han", "q999")
    with pytest.raises(UnknownPersonaError):
        registry.quote("nobody", "q001")


def test_find_mentions_orders_by_first_occurrence(personas: list[Persona]) -> None:
    registry = PersonaRegistry(personas)
    found = registry.find_mentions("老方和李涛怎么看？李涛、于千城也来说说")
    assert [p.id for p in found] == ["fang-han", "li-tao", "yu-qian-cheng"]


def test_find_mentions_prefers_longest_match(personas: list[Persona]) -> None:
    registry = PersonaRegistry(personas)
    # 于千城's alias 李开 is inside 李开复
    assert [p.id for p in registry.find_mentions("请李开复谈谈")] == ["li-kai-fu"]
    assert [p.id for p in registry.find_mentions("李开在吗")] == ["yu-qian-cheng"]


def test_find_mentions_matches_latin_alias_as_whole_words(personas: list[Persona]) -> None:
    registry = PersonaRegistry(personas)
    assert [p.id for p in registry.find_mentions("what would KAI-FU LEE and tao li say")] == [
        "li-kai-fu",
        "li-tao",
    ]
    assert registry.find_mentions("Tao Lin") == []
    assert [p.id for p in registry.find_mentions("@fang-han 你好")] == ["fang-han"]


def test_registry_from_directory(personas: list[Persona], tmp_path: Path) -> None:
    for p in personas:
        write_persona(p, tmp_path)
    registry = PersonaRegistry.from_directory(tmp_path, texts=TEXTS)
    assert registry.ids == ["fang-han", "li-kai-fu", "li-tao", "yu-qian-cheng"]
