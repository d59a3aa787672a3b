import json
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.evaluation.attribution import format_attribution, score_attribution
from bot.evaluation.gold import (
    GoldLine,
    GoldPerson,
    line_spans,
    load_gold_debates,
    load_gold_people,
    load_gold_questions,
    load_gold_speakers,
)

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
SOURCE = "000_test"
TEXT = (
    "\n".join(
        [
            "文/赵记者",  # 1 boilerplate
            "",  # 2 blank
            "Q:你怎么看大模型?",  # 3 interviewer
            "张三:我认为大模型会改变每一个行业。",  # 4 张三
            "张三认为,算力不是问题。",  # 5 narrator, reported 张三
            "他说:“我们一定会赢。”",  # 6 narrator, reported + quoted 张三
            "李四:我不同意,数据才是关键。",  # 7 李四
        ]
    )
    + "\n"
)
GOLD = [
    GoldLine(SOURCE, 1, "boilerplate"),
    GoldLine(SOURCE, 2, "blank"),
    GoldLine(SOURCE, 3, "interviewer"),
    GoldLine(SOURCE, 4, "张三"),
    GoldLine(SOURCE, 5, "narrator", reported=("张三",)),
    GoldLine(SOURCE, 6, "narrator", reported=("张三",), quoted=("张三",)),
    GoldLine(SOURCE, 7, "李四"),
]


def span(name, needle, kind="direct", source=SOURCE):
    start = TEXT.index(needle)
    return {
        "persona": name,
        "name": name,
        "source": source,
        "start": start,
        "end": start + len(needle),
        "kind": kind,
        "text": needle,
    }


def line(number):
    return TEXT.split("\n")[number - 1]


PERFECT = [
    span("张三", line(4)),
    span("张三", line(5), kind="reported"),
    span("张三", "我们一定会赢。"),
    span("李四", line(7)),
]


def score(spans, **kwargs):
    return score_attribution(spans, {SOURCE: TEXT}, GOLD, **kwargs)


def test_line_spans_match_cat_n_numbering():
    assert line_spans("ab\n\ncd\n") == [(0, 2), (3, 3), (4, 6)]
    assert line_spans("ab") == [(0, 2)]


def test_perfect_spans_score_one():
    result = score(PERFECT)

    assert (result.precision, result.recall) == (1.0, 1.0)
    assert (result.precision_macro, result.recall_macro) == (1.0, 1.0)
    assert set(result.forbidden_chars.values()) == {0}
    assert result.violations == ()
    assert result.to_dict()["per_person"]["张三"] == {
        "precision": 1.0,
        "recall": 1.0,
        "direct_lines": 1,
        "covered": 1,
        "chars": len(line(4)) + len(line(5)) + len("我们一定会赢。"),
    }


def test_span_on_interviewer_line_is_forbidden():
    result = score([*PERFECT, span("张三", line(3))])

    assert result.forbidden_chars["interviewer"] == len(line(3))
    assert result.precision < 1.0
    assert result.per_person["张三"].precision < 1.0
    assert [(v.line, v.person, v.rule) for v in result.violations] == [(3, "张三", "interviewer")]


def test_span_under_half_a_line_does_not_cover_it():
    result = score([span("张三", "张三:我认为"), span("李四", line(7))])

    assert result.per_person["张三"].covered == 0
    assert result.per_person["张三"].recall == 0.0
    assert result.recall == 0.5
    assert result.precision == 1.0


def test_reported_span_on_reported_line_is_precise():
    result = score([span("张三", line(5), kind="reported")])

    assert result.per_person["张三"].precision == 1.0
    assert result.forbidden_chars["paraphrase_as_direct"] == 0


def test_direct_span_on_reported_only_line_is_paraphrase_as_direct():
    result = score([span("张三", line(5)), span("张三", line(6))])

    assert result.forbidden_chars["paraphrase_as_direct"] == len(line(5))
    assert result.forbidden_chars["narrator"] == 0
    assert result.per_person["张三"].precision == pytest.approx(len(line(6)) / (len(line(5)) + len(line(6))))
    assert [(v.line, v.rule) for v in result.violations] == [(5, "paraphrase_as_direct")]


def test_narrator_line_without_the_person_is_forbidden():
    result = score([span("李四", line(5), kind="reported")])

    assert result.forbidden_chars["narrator"] == len(line(5))
    assert result.per_person["李四"].precision == 0.0


def test_missing_and_spurious_people():
    people = [
        GoldPerson("张三", (SOURCE,), 1),
        GoldPerson("李四", (SOURCE,), 1),
        GoldPerson("王五", (SOURCE,), 0),
        GoldPerson("孙七", ("001_unscored",), 3),
    ]
    result = score([*PERFECT, span("赵记者", "赵记者")], people=people)

    assert result.missing == ("王五",)
    assert result.spurious == ("赵记者",)
    assert result.forbidden_chars["boilerplate"] == len("赵记者")


def test_unscored_sources_are_ignored():
    result = score_attribution(
        [*PERFECT, span("孙七", line(3), source="002_unlabelled")],
        {SOURCE: TEXT, "002_unlabelled": TEXT},
        GOLD,
    )

    assert "孙七" not in result.per_person
    assert result.spurious == ()


def test_gold_source_without_text_is_an_error():
    with pytest.raises(SourceError):
        score_attribution(PERFECT, {}, GOLD)


def test_to_dict_is_json_ready_and_format_lists_people():
    result = score([*PERFECT, span("张三", line(3))])

    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert data["violations"] == [
        {"source": SOURCE, "line": 3, "person": "张三", "rule": "interviewer", "chars": len(line(3))},
    ]
    table = format_attribution(result)
    assert "张三" in table
    assert f"interviewer {len(line(3))}," in table


def test_load_gold_speakers_normalises_names(tmp_path):
    (tmp_path / "speakers.yaml").write_text(
        "lines:\n"
        "- {file: 000_a.txt, line: 3, speaker: narrator, reported: 张三, quoted: [张三, 李四]}\n"
        "- {file: 000_a.txt, line: 4, speaker: 张三}\n",
        encoding="utf-8",
    )

    assert load_gold_speakers(tmp_path) == [
        GoldLine("000_a", 3, "narrator", reported=("张三",), quoted=("张三", "李四")),
        GoldLine("000_a", 4, "张三"),
    ]


@pytest.mark.skipif(not SHARED_EVAL.is_dir(), reason="shared evaluation set not present")
def test_real_gold_direct_lines_match_people():
    speakers = load_gold_speakers(SHARED_EVAL)
    people = {p.name: p for p in load_gold_people(SHARED_EVAL)}

    direct = [g for g in speakers if g.speaker == "李涛"]
    assert len(direct) == people["李涛"].direct_lines == 13
    assert "002_4cd4b329c9a892c8" not in {g.source for g in speakers}
    assert all(
        q.kind in {"single", "multi", "named", "who_said", "out_of_scope"}
        for q in load_gold_questions(SHARED_EVAL)
    )
    debates = load_gold_debates(SHARED_EVAL)
    assert debates
    assert all(set(d.refs) == {*d.pro, *d.con} for d in debates)
