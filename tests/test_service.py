"""The chat service end to end: real Panel, real SQLite, real Chroma, every command."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import admin
from bot.chat.message import MAX_PAYLOAD_BYTES, Document, Reply
from bot.chat.render import context_payload, render_plain, split_text
from bot.chat.scheduler import check_seeds, daily_quote_text, daily_time, reload_if_changed, seeds_fingerprint
from bot.chat.service import ADMIN_ONLY, GENERIC_ERROR, PanelService
from bot.chat.store import Subscription
from bot.debate import DebateTurn
from bot.panel import Panel
from bot.settings import Settings
from tests.conftest import chat

PRICE_WAR = "价格战对行业有什么影响？"
CHIPS = "国产芯片和英伟达差距有多大？"
EDGE_INTERVIEW = """新芯科技CEO王海峰接受了本报专访。

记者：您怎么看端侧大模型？

王海峰：端侧大模型会在两年内进入每一部手机，隐私是最大的驱动力。

记者：最大的难点是什么？

王海峰：最大的难点是功耗，电池技术跟不上模型的增长。
"""


def answers(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if r.kind == "answer"]


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# -- answering -----------------------------------------------------------------------------------


async def test_question_answered_with_citations_sources_and_buttons(service: PanelService) -> None:
    replies = await chat(service, PRICE_WAR)

    (reply,) = replies
    assert (reply.kind, reply.title) == ("answer", "赵启明 · 星河智能创始人兼CEO")
    assert "价格战对行业是好事" in reply.text and "[1]" in reply.text
    assert reply.sources[0] == "[1] 星河智能赵启明：不追参数，只追效果 · 科技日报 · 2024-08-03"
    assert [b.label for b in reply.buttons] == [f"📄[{c.n}]" for c in reply.citations]
    for citation, button in zip(reply.citations, reply.buttons, strict=True):
        assert service.panel.sources[citation.source].text[citation.start : citation.end] == citation.quote
        assert len(button.payload.encode()) <= MAX_PAYLOAD_BYTES


async def test_citation_button_shows_the_paragraph_with_the_span_marked(service: PanelService) -> None:
    (reply,) = await chat(service, PRICE_WAR)

    (context,) = await chat(service, callback=reply.buttons[0].payload)

    assert context.title == "星河智能赵启明：不追参数，只追效果 · 科技日报 · 2024-08-03"
    assert "▶价格战对行业是好事，它逼着所有人把推理成本降下来。◀" in context.text
    assert "记者：您怎么看现在的大模型价格战？" in context.text


async def test_question_nobody_addressed_is_refused(service: PanelService) -> None:
    replies = await chat(service, "明天北京会下雨吗？")

    assert [r.kind for r in replies] == ["refusal"]
    assert "没有人谈过" in replies[0].text


async def test_stale_buttons_explain_themselves(service: PanelService) -> None:
    (gone,) = await chat(service, callback=context_payload("no-such-source", 1, 5))
    (broken,) = await chat(service, callback="zz:whatever")
    (nobody,) = await chat(service, callback="p:nobody")

    assert (gone.kind, broken.kind, nobody.kind) == ("error", "error", "error")
    assert "不在资料库" in gone.text and "失效" in broken.text and "不在名单" in nobody.text


async def test_follow_up_reuses_the_last_personas_and_topic(service: PanelService) -> None:
    await chat(service, PRICE_WAR)

    replies = await chat(service, "为什么？")

    assert [r.title for r in answers(replies)] == ["赵启明 · 星河智能创始人兼CEO"]
    last = service.store.history("test:1")[-1]
    assert (last.question, last.topic, last.personas) == ("为什么？", PRICE_WAR, ("zhao-qi-ming",))


async def test_short_question_with_its_own_topic_is_not_a_follow_up(service: PanelService) -> None:
    await chat(service, PRICE_WAR)

    replies = await chat(service, CHIPS)

    assert [r.title for r in answers(replies)] == ["钱文静 · 云杉半导体创始人"]


async def test_follow_up_naming_someone_asks_them_about_the_same_topic(service: PanelService) -> None:
    await chat(service, PRICE_WAR)

    replies = await chat(service, "那钱文静呢？")

    assert [r.kind for r in replies] == ["refusal"]
    assert replies[0].text == "钱文静在这些资料里没有谈过这个问题。"


# -- commands ----------------------------------------------------------------------------------


async def test_help_lists_personas_examples_and_public_commands(service: PanelService) -> None:
    (reply,) = await chat(service, "/help")

    assert "钱文静" in reply.text and "赵启明" in reply.text
    assert reply.text.count("\n· ") == 3
    assert "/with 名字" in reply.text and "/subscribe HH:MM" in reply.text
    assert "/reload" not in reply.text
    (admin_help,) = await chat(service, "/start", is_admin=True)
    assert "/reload" in admin_help.text and "/stats" in admin_help.text


async def test_every_help_example_gets_an_answer(service: PanelService) -> None:
    (reply,) = await chat(service, "/help")
    examples = [line[2:] for line in reply.text.splitlines() if line.startswith("· ")]

    for example in examples:
        assert answers(await chat(service, example)), example


async def test_personas_lists_buttons_that_open_profile_cards(service: PanelService) -> None:
    (listing,) = await chat(service, "/personas")
    assert len(listing.buttons) == len(service.panel.registry) == 7
    button = next(b for b in listing.buttons if b.label == "赵启明")
    assert button.payload == "p:zhao-qi-ming"

    (card,) = await chat(service, callback=button.payload)

    assert card.title == "赵启明 · 星河智能创始人兼CEO"
    assert "机构：星河智能" in card.text
    assert [c.n for c in card.citations] == [1, 2]
    assert "[1]" in card.text and "[2]" in card.text and len(card.sources) == 2
    (same,) = await chat(service, "/personas 赵启明")
    assert same == card


async def test_with_sets_the_active_persona_until_off(service: PanelService) -> None:
    (started,) = await chat(service, "/with 钱文静")
    assert "钱文静" in started.text
    assert service.store.active_persona("test:1") == "qian-wen-jing"

    only_her = await chat(service, PRICE_WAR)
    assert [r.text for r in only_her] == ["钱文静在这些资料里没有谈过这个问题。"]

    await chat(service, "/with off")
    assert service.store.active_persona("test:1") is None
    assert [r.title for r in answers(await chat(service, PRICE_WAR))] == ["赵启明 · 星河智能创始人兼CEO"]


async def test_naming_someone_else_during_with_asks_them(service: PanelService) -> None:
    await chat(service, "/with 钱文静")
    replies = await chat(service, f"赵启明怎么看{PRICE_WAR}")
    await chat(service, "/with off")

    assert [r.title for r in answers(replies)] == ["赵启明 · 星河智能创始人兼CEO"]


async def test_with_unknown_name_says_so(service: PanelService) -> None:
    (reply,) = await chat(service, "/with 马云")

    assert (reply.kind, reply.text) == ("error", "没有找到“马云”这位嘉宾。")


async def test_ask_resolves_the_longest_name_prefix(service: PanelService) -> None:
    replies = await chat(service, f"/ask 钱文静{CHIPS}")

    assert [r.title for r in answers(replies)] == ["钱文静 · 云杉半导体创始人"]
    last = service.store.history("test:1")[-1]
    assert (last.question, last.personas) == (CHIPS, ("qian-wen-jing",))


async def test_ask_without_a_name_routes_and_without_a_question_explains(service: PanelService) -> None:
    routed = await chat(service, f"/ask {PRICE_WAR}")
    (usage,) = await chat(service, "/ask 赵启明")

    assert [r.title for r in answers(routed)] == ["赵启明 · 星河智能创始人兼CEO"]
    assert usage.kind == "error" and usage.text.startswith("用法：/ask 名字 问题")


async def test_who_finds_the_speaker(service: PanelService) -> None:
    (reply,) = await chat(service, "/who 差距主要在软件生态")

    assert reply.title == "钱文静 · 云杉半导体创始人"
    assert reply.text.startswith("这句话出自钱文静。")


async def test_sources_lists_the_articles_and_who_speaks(service: PanelService) -> None:
    (reply,) = await chat(service, "/sources")

    assert reply.title == "来源（4 篇）"
    assert "AI芯片圆桌：国产芯片能不能追上？ · 芯视界 · 2024-06 · 沙龙" in reply.text
    assert "嘉宾：孙立文、欧阳博、钱文静" in reply.text or "嘉宾：欧阳博、钱文静、孙立文" in reply.text


async def test_quote_is_a_verbatim_direct_view(service: PanelService) -> None:
    (reply,) = await chat(service, "/quote")
    (citation,) = reply.citations

    assert citation.kind == "direct"
    assert service.panel.sources[citation.source].text[citation.start : citation.end] == citation.quote
    assert reply.text == f"“{citation.quote}”[1]"
    (hers,) = await chat(service, "/quote 周若华")
    assert hers.title == "周若华 · 启明研究院院长"


async def test_subscribe_and_unsubscribe_store_the_time_and_tell_the_listener(service: PanelService) -> None:
    heard: list[tuple[str, Subscription | None]] = []
    service.subscription_listener = lambda chat_id, sub: heard.append((chat_id, sub))

    (ok,) = await chat(service, "/subscribe 8:30")
    assert service.store.subscription("test:1") == Subscription("test:1", "08:30", "Asia/Shanghai")
    assert "08:30" in ok.text
    (bad_time,) = await chat(service, "/subscribe 25:00")
    (bad_zone,) = await chat(service, "/subscribe 07:00 Mars/Base")
    assert (bad_time.kind, bad_zone.kind) == ("error", "error")
    await chat(service, "/unsubscribe")

    assert service.store.subscription("test:1") is None
    assert heard == [("test:1", Subscription("test:1", "08:30", "Asia/Shanghai")), ("test:1", None)]


async def test_debate_turns_arrive_one_per_reply_and_cite(service: PanelService) -> None:
    replies = await chat(service, "/debate 国产AI芯片和英伟达的差距主要在软件生态")
    (stop,) = await chat(service, "/stop")

    assert replies[0].title == "主持人" and replies[0].kind == "debate"
    spoken = [r for r in replies if r.title != "主持人"]
    assert spoken and all(r.citations for r in spoken)
    texts = {k: src.text for k, src in service.panel.sources.items()}
    assert all(texts[c.source][c.start : c.end] == c.quote for r in replies for c in r.citations)
    assert stop.text == "现在没有进行中的辩论。"


async def test_map_is_one_reply_grouped_by_side_with_verbatim_claims(service: PanelService) -> None:
    (reply,) = await chat(service, "/map 国产AI芯片和英伟达的差距主要在软件生态")

    assert reply.kind == "map" and reply.citations
    assert len(reply.buttons) == len(reply.citations)
    texts = {k: src.text for k, src in service.panel.sources.items()}
    assert all(texts[c.source][c.start : c.end] == c.quote for c in reply.citations)
    assert all(f"“{c.quote}”[{c.n}]" in reply.text or f"（据报道）{c.quote}[{c.n}]" in reply.text for c in reply.citations)


async def test_map_without_a_proposition_explains_itself(service: PanelService) -> None:
    (reply,) = await chat(service, "/map")

    assert reply.kind == "error" and "/map 命题" in reply.text


async def test_debate_with_an_unknown_name_is_an_error(service: PanelService) -> None:
    (reply,) = await chat(service, "/debate 开源能追上闭源 | 无名氏")

    assert reply.kind == "error" and "无名氏" in reply.text


async def test_stop_ends_a_running_debate(service: PanelService, monkeypatch: pytest.MonkeyPatch) -> None:
    started = threading.Event()

    def iter_debate(panel: Panel, proposition: str, **options: object) -> Iterator[DebateTurn]:
        for n in range(1, 100):
            if n == 2:  # the first turn has been handed on
                started.set()
            time.sleep(0.05)
            yield DebateTurn(
                round=n, persona="moderator", name="主持人", stance="neutral", text=f"第{n}轮：{proposition}"
            )

    monkeypatch.setattr("bot.chat.service.iter_debate", iter_debate)

    async def debate() -> list[Reply]:
        return await chat(service, "/debate 开源能追上闭源吗")

    task = asyncio.create_task(debate())
    await asyncio.to_thread(started.wait, 5)
    (stopping,) = await chat(service, "/stop")
    turns = await asyncio.wait_for(task, 5)

    assert "停止" in stopping.text
    assert turns[-1].text == "辩论已停止。"
    assert 1 <= len(turns) - 1 < 99
    assert service.stop("test:1") is False


async def test_unknown_command_is_an_error(service: PanelService) -> None:
    (reply,) = await chat(service, "/frobnicate")

    assert (reply.kind, reply.text) == ("error", "没有 /frobnicate 这个命令，发送 /help 查看可用的命令。")


# -- input rules -----------------------------------------------------------------------------


async def test_ten_thousand_characters_get_one_error_and_nothing_else(service: PanelService) -> None:
    replies = await chat(service, "芯片" * 5000)

    assert [r.kind for r in replies] == ["error"]
    assert "10000" in replies[0].text
    assert service.store.history("test:1") == []
    assert (service.store.counter("questions"), service.store.chat_count()) == (0, 0)


async def test_group_messages_not_addressed_are_ignored(service: PanelService) -> None:
    ignored = await chat(service, PRICE_WAR, chat_id="test:-100", is_group=True, addressed=False)
    ignored_long = await chat(service, "长" * 10_000, chat_id="test:-100", is_group=True, addressed=False)
    answered = await chat(service, PRICE_WAR, chat_id="test:-100", is_group=True, addressed=True)

    assert (ignored, ignored_long) == ([], [])
    assert len(answers(answered)) == 1
    assert service.store.chat_count() == 1


async def test_unexpected_exception_is_logged_and_answered_generically(
    service: PanelService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(question: str, *, persona_ids: object = ()) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service.panel, "ask", explode)
    with caplog.at_level(logging.ERROR, logger="bot.chat.service"):
        replies = await chat(service, PRICE_WAR)

    assert [(r.kind, r.text) for r in replies] == [("error", GENERIC_ERROR)]
    assert any(record.exc_info and "disk on fire" in str(record.exc_info[1]) for record in caplog.records)


# -- admin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/reload", "/stats", "/addsource"])
async def test_admin_commands_refuse_others_and_run_nothing(
    fresh_service: PanelService, command: str
) -> None:
    settings = fresh_service.settings
    (settings.seeds_dir / "edge.txt").write_text(EDGE_INTERVIEW, encoding="utf-8")
    before, serving = files_of(settings.personas_dir), fresh_service.panel

    replies = await chat(fresh_service, command, document=Document("x.txt", EDGE_INTERVIEW.encode()))

    assert [(r.kind, r.text) for r in replies] == [("error", ADMIN_ONLY)]
    assert fresh_service.panel is serving
    assert files_of(settings.personas_dir) == before


async def test_reload_swaps_in_a_new_panel_and_reports_the_diff(fresh_service: PanelService) -> None:
    (fresh_service.settings.seeds_dir / "edge.txt").write_text(EDGE_INTERVIEW, encoding="utf-8")
    old = fresh_service.panel

    progress, report = await chat(fresh_service, "/reload", is_admin=True)

    assert (progress.kind, report.kind) == ("admin", "admin")
    assert "来源 5 篇：新增 1（edge）" in report.text
    assert "嘉宾 8 位：新增 1（王海峰）" in report.text
    assert "引文 24 条：新增 2" in report.text
    assert fresh_service.panel is not old and "wang-hai-feng" in fresh_service.panel.registry
    assert [r.title for r in answers(await chat(fresh_service, "端侧大模型最大的难点是什么？"))] == [
        "王海峰 · 新芯科技CEO"
    ]


async def test_reload_of_unchanged_seeds_reports_no_change(fresh_service: PanelService) -> None:
    _, report = await chat(fresh_service, "/reload", is_admin=True)

    assert report.text.endswith("资料没有变化。")


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("empty.txt", b"", "empty"),
        ("binary.txt", bytes(range(256)) * 4, "binary"),
        ("nobody.txt", "今天天气很好。\n\n明天也许会下雨。\n".encode(), "发言人"),
    ],
    ids=["empty", "binary", "nobody-speaks"],
)
async def test_failed_reload_leaves_serving_state_and_files_untouched(
    fresh_service: PanelService, name: str, data: bytes, why: str
) -> None:
    settings = fresh_service.settings
    (settings.seeds_dir / name).write_bytes(data)
    (settings.seeds_dir / "edge.txt").write_text(EDGE_INTERVIEW, encoding="utf-8")  # would add a persona
    seeds, personas, serving = (
        files_of(settings.seeds_dir),
        files_of(settings.personas_dir),
        fresh_service.panel,
    )

    replies = await chat(fresh_service, "/reload", is_admin=True)

    assert replies[-1].kind == "error"
    assert "重新加载失败，仍在使用原来的资料" in replies[-1].text
    assert name in replies[-1].text and why in replies[-1].text
    assert fresh_service.panel is serving
    assert files_of(settings.seeds_dir) == seeds
    assert files_of(settings.personas_dir) == personas
    assert answers(await chat(fresh_service, PRICE_WAR))


async def test_crash_while_opening_the_new_panel_restores_profiles(
    fresh_service: PanelService, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fresh_service.settings
    (settings.seeds_dir / "edge.txt").write_text(EDGE_INTERVIEW, encoding="utf-8")
    personas, serving = files_of(settings.personas_dir), fresh_service.panel

    def crash(*args: object, **kwargs: object) -> Panel:
        raise RuntimeError("chroma fell over")

    monkeypatch.setattr(admin.Panel, "open", crash)
    replies = await chat(fresh_service, "/reload", is_admin=True)

    assert replies[-1].kind == "error" and "内部错误" in replies[-1].text
    assert fresh_service.panel is serving
    assert files_of(settings.personas_dir) == personas


async def test_addsource_adds_the_document_and_reloads(fresh_service: PanelService) -> None:
    document = Document("端侧访谈.txt", EDGE_INTERVIEW.encode("gb18030"))

    replies = await chat(fresh_service, "/addsource", document=document, is_admin=True)

    assert replies[-1].kind == "admin"
    assert "已添加来源 端侧访谈" in replies[-1].text and "王海峰" in replies[-1].text
    stored = fresh_service.settings.seeds_dir / "端侧访谈.txt"
    assert stored.read_text(encoding="utf-8") == EDGE_INTERVIEW
    (reply,) = answers(await chat(fresh_service, "端侧大模型最大的难点是什么？"))
    assert len(reply.buttons[0].payload.encode()) <= MAX_PAYLOAD_BYTES
    (context,) = await chat(fresh_service, callback=reply.buttons[0].payload)
    assert "▶" in context.text


@pytest.mark.parametrize(
    ("filename", "data", "why"),
    [
        ("empty.txt", b"", "empty"),
        ("binary.txt", b"\x00\x01\x02PK\x03\x04" * 100, "binary"),
        ("nobody.txt", "今天天气很好。\n\n明天也许会下雨。\n".encode(), "没有识别出任何发言人"),
        ("speech.txt", "今天天气很好。\n\n明天也许会下雨。\n".encode(), "没有识别出任何发言人"),
        ("slides.pdf", b"%PDF-1.4", "unsupported"),
    ],
    ids=["empty", "binary", "nobody-speaks", "replaces-a-source", "not-text"],
)
async def test_failed_addsource_changes_nothing(
    fresh_service: PanelService, filename: str, data: bytes, why: str
) -> None:
    settings = fresh_service.settings
    seeds, personas, serving = (
        files_of(settings.seeds_dir),
        files_of(settings.personas_dir),
        fresh_service.panel,
    )

    replies = await chat(fresh_service, "/addsource", document=Document(filename, data), is_admin=True)

    assert replies[-1].kind == "error" and why in replies[-1].text
    assert fresh_service.panel is serving
    assert files_of(settings.seeds_dir) == seeds
    assert files_of(settings.personas_dir) == personas


async def test_addsource_without_a_file_explains(service: PanelService) -> None:
    (reply,) = await chat(service, "/addsource", is_admin=True)

    assert reply.kind == "error" and "/addsource" in reply.text


async def test_old_panel_serves_while_the_new_one_is_built(
    fresh_service: PanelService, monkeypatch: pytest.MonkeyPatch
) -> None:
    building, release = threading.Event(), threading.Event()
    real_reload = admin.reload

    def slow_reload(settings: Settings, serving: Panel) -> tuple[Panel, admin.ReloadReport]:
        building.set()
        release.wait(10)
        return real_reload(settings, serving)

    monkeypatch.setattr(admin, "reload", slow_reload)
    old = fresh_service.panel
    reload = asyncio.create_task(chat(fresh_service, "/reload", is_admin=True))
    await asyncio.to_thread(building.wait, 10)

    during = await chat(fresh_service, PRICE_WAR, chat_id="test:2")
    assert answers(during) and fresh_service.panel is old
    release.set()
    replies = await reload

    assert replies[-1].kind == "admin" and fresh_service.panel is not old


async def test_stats_counts_personas_quotes_chats_and_answers(service: PanelService) -> None:
    await chat(service, PRICE_WAR)
    await chat(service, "明天北京会下雨吗？", chat_id="test:2")

    (reply,) = await chat(service, "/stats", is_admin=True)

    assert "嘉宾：7 位" in reply.text and "引文：22 条" in reply.text and "来源：4 篇" in reply.text
    assert "会话：2 个" in reply.text
    assert "已回答问题：1 个（共收到 2 个）" in reply.text
    assert "索引已建立：" in reply.text


# -- scheduler and rendering ----------------------------------------------------------------


async def test_scheduler_reloads_only_when_seeds_change(fresh_service: PanelService) -> None:
    seeds = fresh_service.settings.seeds_dir
    assert check_seeds(seeds, last=fresh_service.seeds_seen).due is False
    assert await reload_if_changed(fresh_service) is None

    (seeds / "edge.txt").write_text(EDGE_INTERVIEW, encoding="utf-8")
    assert check_seeds(seeds, last=fresh_service.seeds_seen).due is True
    report = await reload_if_changed(fresh_service)

    assert report is not None and report.personas.added == ("王海峰",)
    assert fresh_service.seeds_seen == seeds_fingerprint(seeds)
    assert await reload_if_changed(fresh_service) is None


def test_daily_quote_and_its_time(panel: Panel) -> None:
    reply = daily_quote_text(panel)
    when = daily_time(Subscription("test:1", "08:05", "Asia/Shanghai"))

    assert reply.text.startswith("今日语录：“") and reply.citations[0].kind == "direct"
    assert (when.hour, when.minute, str(when.tzinfo)) == (8, 5, "Asia/Shanghai")


def test_render_plain_and_split_text() -> None:
    reply = Reply("正文[1]", kind="answer", title="赵启明 · CEO", sources=("[1] 标题 · 媒体 · 2024",))
    text = "第一段。\n\n" + "很长的一句话。" * 20 + "\n\n尾段。"

    chunks = split_text(text, 50)

    assert render_plain(reply) == "赵启明 · CEO\n\n正文[1]\n\n[1] 标题 · 媒体 · 2024"
    assert all(len(chunk) <= 50 for chunk in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")
    assert all(chunk.endswith("。") for chunk in chunks)


async def test_who_is_a_persona_shows_the_profile_card(service: PanelService) -> None:
    (reply,) = await chat(service, "钱文静是谁？")

    assert reply.title.startswith("钱文静") and "云杉半导体" in reply.text + reply.title
