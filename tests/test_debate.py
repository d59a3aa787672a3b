"""Debates end to end: real ingest, real index and embeddings, over made-up articles written here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.chat.render import map_reply
from bot.debate import Debate, DebateTurn, iter_debate, stage_debate
from bot.debate.cue import find_cues, polarity
from bot.debate.stage import SILENT
from bot.debate.stance_map import stance_map
from bot.errors import UnknownPersonaError
from bot.ingest.pipeline import ingest
from bot.panel import Panel
from bot.settings import Settings
from tests.conftest import settings_at

SALON = """作者|科技编辑部

近日，一场关于国产AI芯片的沙龙在杭州举行，星海资本合伙人唐明远担任主持人，对话两位嘉宾：算芯科技创始人林海峰、北斗微电子首席科学家宋雨晴。

唐明远:国产AI芯片有没有可能在五年内追上英伟达？

林海峰:我认为一定能追上。国产AI芯片这几年进步非常快，五年内追上英伟达毫无问题。

只要开发者愿意用，软件生态也会跟上来，国产芯片完全有机会做到世界一流。

宋雨晴:我的看法不太一样。五年内追上英伟达，基本上不可能。

英伟达的软件生态积累了十几年，国产芯片几乎没有可能在五年内补上这个差距。

唐明远:那创业公司应该怎么做？

林海峰:创业公司要找准细分场景，比如边缘推理，先活下来再说。

宋雨晴:我同意林总，边缘推理是一个好方向，创业公司先做细分市场。

【嘉宾简介】

林海峰,算芯科技创始人。

宋雨晴,北斗微电子首席科学家。
"""
NEWS = """国产芯片热潮下的冷思考

2024-03-01 10:00:00

多位业内人士就国产AI芯片的前景接受了本报采访。

云岭投资合伙人韩立表示，国产AI芯片在五年内追上英伟达的可能性很小，真正的差距在软件生态。

电商平台负责人周晓光则谈到，今年直播电商的增速明显放缓，商家更看重复购率。

“直播带货已经进入精耕细作的阶段。”周晓光称。

版权声明：本站文章来自互联网，如有侵权请联系删除！
"""
MANIFEST = {
    "chip_salon": {"title": "国产AI芯片沙龙", "outlet": "芯视界", "date": "2024-05", "kind": "salon"},
    "chip_news": {
        "title": "国产芯片热潮下的冷思考",
        "outlet": "财经日报",
        "date": "2024-03-01",
        "kind": "news",
    },
}
PROPOSITION = "国产AI芯片能在五年内追上英伟达"
TURN_KEYS = ["round", "persona", "name", "stance", "text", "citations", "replying_to"]
CITATION_KEYS = ["n", "source", "start", "end", "kind", "quote"]


@pytest.fixture(scope="module")
def chip_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("debate")
    seeds = root / "seeds"
    seeds.mkdir()
    (seeds / "chip_salon.txt").write_text(SALON, encoding="utf-8")
    (seeds / "chip_news.txt").write_text(NEWS, encoding="utf-8")
    (seeds / "sources.yaml").write_text(yaml.safe_dump(MANIFEST, allow_unicode=True), encoding="utf-8")
    settings = settings_at(root)
    ingest(settings.seeds_dir, settings.personas_dir, max_bytes=settings.max_source_bytes)
    return settings


@pytest.fixture(scope="module")
def chips(chip_settings: Settings, panel: Panel) -> Panel:
    return Panel.open(chip_settings, embedder=panel.embedder)


@pytest.fixture(scope="module")
def debate(chips: Panel) -> Debate:
    return stage_debate(chips, PROPOSITION)


def persona_turns(debate: Debate) -> list[DebateTurn]:
    return [t for t in debate.turns if t.persona != "moderator"]


# -- sides -----------------------------------------------------------------------------------


def test_sides_follow_what_each_guest_said(debate: Debate) -> None:
    assert debate.pro == ("lin-hai-feng",)
    assert sorted(debate.con) == ["han-li", "song-yu-qing"]


def test_a_denial_swaps_the_sides(chips: Panel) -> None:
    denial = stage_debate(chips, "国产AI芯片五年内不可能追上英伟达")

    assert sorted(denial.pro) == ["han-li", "song-yu-qing"]
    assert denial.con == ("lin-hai-feng",)


def test_the_host_moderates_and_does_not_debate(debate: Debate) -> None:
    assert "tang-ming-yuan" not in {t.persona for t in debate.turns}
    assert all(t.stance == "neutral" and t.name == "主持人" for t in debate.turns if t.persona == "moderator")
    assert debate.moderator == "panelbot"


def test_opening_names_the_proposition_and_both_sides(debate: Debate) -> None:
    opening = debate.turns[0]

    assert (opening.persona, opening.round, opening.citations) == ("moderator", 0, ())
    assert PROPOSITION in opening.text
    assert "正方：林海峰" in opening.text
    assert "反方：" in opening.text and "宋雨晴" in opening.text


# -- turns -----------------------------------------------------------------------------------


def test_every_persona_turn_cites_and_every_citation_is_verbatim(debate: Debate, chips: Panel) -> None:
    turns = persona_turns(debate)
    citations = [c for t in debate.turns for c in t.citations]
    citations += [
        c for item in (*debate.summary.agreements, *debate.summary.disagreements) for c in item.citations
    ]

    assert turns and all(t.citations for t in turns)
    assert all(f"[{c.n}]" in t.text for t in debate.turns for c in t.citations)
    assert all(chips.sources[c.source].text[c.start : c.end] == c.quote for c in citations)


def test_reported_words_are_marked_as_reported(debate: Debate) -> None:
    (han,) = [t for t in debate.turns if t.persona == "han-li" and t.round == 0]

    assert han.citations[0].kind == "reported"
    assert "（据报道）" in han.text and "“" not in han.text


def test_no_passage_is_said_twice(debate: Debate) -> None:
    spans = [(c.source, c.start, c.end) for t in persona_turns(debate) for c in t.citations]

    assert not any(
        a[0] == b[0] and a[1] < b[2] and b[1] < a[2] for i, a in enumerate(spans) for b in spans[i + 1 :]
    )


def test_rebuttals_answer_an_earlier_turn_of_the_other_side(debate: Debate) -> None:
    replies = [(i, t) for i, t in enumerate(debate.turns) if t.replying_to is not None]

    assert replies
    for index, turn in replies:
        target = debate.turns[turn.replying_to]  # type: ignore[index]
        assert turn.replying_to < index  # type: ignore[operator]
        assert {turn.stance, target.stance} == {"pro", "con"}
        assert turn.round >= 1


@pytest.mark.parametrize("rounds", [0, 1])
def test_rounds_bound_the_rebuttals(chips: Panel, rounds: int) -> None:
    short = stage_debate(chips, PROPOSITION, rounds=rounds)

    assert max(t.round for t in persona_turns(short)) <= rounds
    assert short.turns[-1].persona == "moderator" and "总结" in short.turns[-1].text


def test_a_named_persona_with_nothing_on_the_topic_says_so(chips: Panel) -> None:
    named = stage_debate(chips, PROPOSITION, persona_ids=["周晓光", "林海峰"])
    (silent,) = [t for t in named.turns if t.persona == "zhou-xiao-guang"]

    assert (silent.text, silent.citations, silent.stance) == (SILENT, (), "neutral")
    assert named.pro == ("lin-hai-feng",)
    assert named.con == ()
    assert {t.persona for t in named.turns} == {"moderator", "zhou-xiao-guang", "lin-hai-feng"}


def test_an_unknown_named_persona_is_an_error(chips: Panel) -> None:
    with pytest.raises(UnknownPersonaError):
        stage_debate(chips, PROPOSITION, persona_ids=["查无此人"])


def test_nobody_addressed_gives_an_honest_message_and_no_opponent(chips: Panel) -> None:
    empty = stage_debate(chips, "火星移民会在十年内实现")

    assert (empty.pro, empty.con) == ((), ())
    assert [t.persona for t in empty.turns] == ["moderator"]
    assert "没有人谈过" in empty.turns[0].text
    assert empty.summary.to_dict() == {"agreements": [], "disagreements": []}


def test_one_sided_sources_get_no_invented_opponent(chips: Panel) -> None:
    agreed = stage_debate(chips, "边缘推理是创业公司的好方向")

    assert agreed.pro and agreed.con == ()
    assert "没有人持相反的看法" in agreed.turns[0].text
    assert all(t.stance != "con" for t in agreed.turns)


# -- summary ---------------------------------------------------------------------------------


def test_summary_pairs_quotes_of_the_two_sides(debate: Debate) -> None:
    closing = debate.turns[-1]
    disagreements = debate.summary.disagreements

    assert closing.summary == debate.summary and closing.round == max(t.round for t in debate.turns)
    assert disagreements
    for item in disagreements:
        assert len(item.citations) == 2
        assert item.personas[0] in debate.pro and item.personas[1] in debate.con
        assert all(f"[{c.n}]" in item.text for c in item.citations)


# -- shapes and streaming --------------------------------------------------------------------


def test_to_dict_has_the_documented_shape(debate: Debate) -> None:
    data = json.loads(json.dumps(debate.to_dict(), ensure_ascii=False))

    assert list(data) == ["proposition", "moderator", "sides", "turns", "summary"]
    assert list(data["sides"]) == ["pro", "con"]
    assert list(data["summary"]) == ["agreements", "disagreements"]
    assert all(list(turn) == TURN_KEYS for turn in data["turns"])
    assert all(list(c) == CITATION_KEYS for turn in data["turns"] for c in turn["citations"])
    assert {turn["stance"] for turn in data["turns"]} <= {"pro", "con", "neutral"}


def test_iter_debate_yields_the_same_turns_as_stage_debate(chips: Panel, debate: Debate) -> None:
    streamed = list(iter_debate(chips, PROPOSITION))

    assert [t.to_dict() for t in streamed] == [t.to_dict() for t in debate.turns]


def test_iter_debate_stops_when_asked(chips: Panel) -> None:
    received: list[DebateTurn] = []
    for turn in iter_debate(chips, PROPOSITION, should_stop=lambda: len(received) >= 2):
        received.append(turn)

    assert len(received) == 2


def test_debate_json_from_the_command_line(chip_settings: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SEEDS_DIR": str(chip_settings.seeds_dir),
        "PERSONAS_DIR": str(chip_settings.personas_dir),
        "DATA_DIR": str(chip_settings.data_dir),
        "LLM_BASE_URL": "",
        "LLM_MODEL": "",
    }
    out = subprocess.run(
        [sys.executable, "-m", "bot", "debate", PROPOSITION, "--rounds", "1", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
        cwd=tmp_path,
    ).stdout
    data = json.loads(out)

    assert list(data) == ["proposition", "moderator", "sides", "turns", "summary"]
    assert data["sides"]["pro"] == ["lin-hai-feng"]
    assert max(t["round"] for t in data["turns"] if t["persona"] != "moderator") <= 1


# -- cues ------------------------------------------------------------------------------------


def test_cues_are_read_whole_and_at_word_boundaries() -> None:
    assert [c for c, _, _ in find_cues("我觉得没有任何问题")] == ["没有任何问题"]
    assert [c for c, _, _ in find_cues("所有的机会都要付出成本")] == []
    assert polarity("答案基本上是No")[0] == -1.0
    assert polarity("中国的大模型创业公司能否搞出一个OpenAI")[:2] == (0.0, ())
    assert polarity("五年内追上英伟达毫无问题")[0] > 0


# -- the stance map --------------------------------------------------------------------------


def test_map_places_each_guest_with_one_verbatim_claim(chips: Panel) -> None:
    found = stance_map(chips, PROPOSITION)
    sides = {p.persona: p.stance for p in found.positions}

    assert sides.get("lin-hai-feng") == "pro"
    assert sides.get("song-yu-qing") == "con" and sides.get("han-li") == "con"
    assert "tang-ming-yuan" not in sides  # the host asks, it takes no side
    for position in found.positions:
        (citation,) = position.citations
        assert position.claim == citation.quote
        assert chips.sources[citation.source].text[citation.start : citation.end] == citation.quote
    song = next(p for p in found.positions if p.persona == "song-yu-qing")
    assert "不可能" in song.claim


def test_map_of_named_personas_lists_who_never_addressed_it(chips: Panel) -> None:
    found = stance_map(chips, "边缘推理是创业公司的好方向", persona_ids=["宋雨晴", "唐明远"])

    assert [p.persona for p in found.positions] == ["song-yu-qing"]
    assert found.positions[0].stance == "pro"
    assert found.silent == (("tang-ming-yuan", "唐明远"),)


def test_map_reply_groups_by_side_with_a_button_per_claim(chips: Panel) -> None:
    reply = map_reply(stance_map(chips, PROPOSITION), sources=chips.sources)

    support, oppose = reply.text.index("支持"), reply.text.index("反对")
    assert support < reply.text.index("林海峰") < oppose < reply.text.index("宋雨晴")
    assert len(reply.buttons) == len(reply.citations) == len(reply.sources) >= 3
    assert [c.n for c in reply.citations] == list(range(1, len(reply.citations) + 1))


def test_map_of_a_proposition_nobody_addressed_says_so(chips: Panel) -> None:
    reply = map_reply(stance_map(chips, "猫比狗更适合做宠物"), sources=chips.sources)

    assert reply.kind == "refusal" and not reply.citations


def test_map_json_from_the_command_line(chip_settings: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SEEDS_DIR": str(chip_settings.seeds_dir),
        "PERSONAS_DIR": str(chip_settings.personas_dir),
        "DATA_DIR": str(chip_settings.data_dir),
        "LLM_BASE_URL": "",
        "LLM_MODEL": "",
    }
    out = subprocess.run(
        [sys.executable, "-m", "bot", "map", PROPOSITION, "--persona", "林海峰", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
        cwd=tmp_path,
    ).stdout
    data = json.loads(out)

    assert list(data) == ["proposition", "positions", "silent"]
    (position,) = data["positions"]
    assert list(position) == ["persona", "name", "stance", "claim", "citations", "partial"]
    assert (position["persona"], position["stance"]) == ("lin-hai-feng", "pro")
    assert list(position["citations"][0]) == CITATION_KEYS


# -- rounds over richer material -------------------------------------------------------------

FORUM = """主持人周鸣：远程办公会成为主流吗？

陈思远：我认为远程办公一定会成为主流。疫情以后，大部分团队已经证明远程办公完全可行。

陈思远：远程办公让公司可以在全世界招人，这是办公室永远做不到的优势。

陈思远：通勤时间省下来，员工的效率和幸福感都会提高，远程办公会越来越普及。

许知行：我不这么看。远程办公不可能成为主流，大多数公司最终都会回到办公室。

许知行：远程办公很难培养新人，年轻员工没有人带，成长得很慢。

许知行：团队之间的信任很难靠视频会议建立，远程办公不会成为主流的工作方式。

许知行：我承认，疫情以后大部分团队已经证明远程办公完全可行，远程办公一定会越来越普及。
"""


@pytest.fixture(scope="module")
def forum(tmp_path_factory: pytest.TempPathFactory, panel: Panel) -> Panel:
    root = tmp_path_factory.mktemp("forum")
    seeds = root / "seeds"
    seeds.mkdir()
    (seeds / "remote_forum.txt").write_text(FORUM, encoding="utf-8")
    manifest = {"remote_forum": {"title": "远程办公论坛", "outlet": "职场周刊", "date": "2024-06", "kind": "salon"}}
    (seeds / "sources.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    settings = settings_at(root)
    ingest(settings.seeds_dir, settings.personas_dir, max_bytes=settings.max_source_bytes)
    return Panel.open(settings, embedder=panel.embedder)


def test_a_debate_with_material_left_runs_two_rounds_and_every_rebuttal_holds_its_side(forum: Panel) -> None:
    debate = stage_debate(forum, "远程办公会成为主流", rounds=2)
    rebuttals = [t for t in debate.turns if t.kind == "rebuttal"]

    assert (debate.pro, debate.con) == (("chen-si-yuan",), ("xu-zhi-xing",))
    assert {t.round for t in rebuttals} == {1, 2}
    for turn in rebuttals:
        target = debate.turns[turn.replying_to]  # type: ignore[index]
        assert {turn.stance, target.stance} == {"pro", "con"}
        doubting = any(word in turn.citations[0].quote for word in ("不", "难", "没有"))
        assert doubting == (turn.stance == "con")  # the con side doubts; the pro side never argues its case
