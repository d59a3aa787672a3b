"""Chat commands: the `/help`-ordered command table, one handler per command, and button presses.

Each handler takes the chat `Core` and the `Turn` it routed, and streams its replies; the service
runs them and records the turn.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.chat.message import Button, Reply
from bot.chat.render import (
    CONTEXT_PREFIX,
    PROFILE_PREFIX,
    context_reply,
    describe_source,
    map_reply,
    persona_heading,
    profile_payload,
    profile_reply,
    quote_reply,
    resolve_key,
    signature_quotes,
)
from bot.chat.scheduler import daily_quote_text
from bot.chat.turn import Core, Handler, Turn
from bot.debate.stance_map import stance_map
from bot.ingest.sources import KIND_LABELS
from bot.persona.profile import Persona
from bot.persona.registry import PersonaRegistry

_TIME = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")
_OFF = frozenset({"off", "none", "关闭", "退出", "结束", "取消"})
_NAME_SEPARATORS = " \t\n:：,，、"


@dataclass(frozen=True)
class Command:
    """A chat command: its handler and how `/help` presents it."""

    name: str
    handler: Handler
    usage: str
    summary: str
    admin: bool = False
    listed: bool = True


async def stray_document(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Explain how to add a source when a file arrives without `/addsource`."""
    yield Reply("要添加来源，请发送 .txt / .md / .html 文件，并在说明里写 /addsource。")


async def button_pressed(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Show what a button points at: a cited span in its source, or a persona's profile card."""
    panel = service.panel
    kind, _, rest = (turn.inbound.callback or "").partition(":")
    if kind == CONTEXT_PREFIX:
        key, _, span = rest.rpartition(":") if rest.count(":") >= 2 else ("", "", "")
        key, _, start_text = key.rpartition(":")
        source_id = resolve_key(key, panel.sources)
        if source_id and start_text.isdigit() and span.isdigit():
            source, start, end = panel.sources[source_id], int(start_text), int(span)
            if 0 <= start < end <= len(source.text):
                yield context_reply(source, start, end)
                return
        yield Reply("这条引文的来源已不在资料库中（资料可能已更新）。", kind="error")
        return
    if kind == PROFILE_PREFIX:
        persona_id = resolve_key(rest, panel.registry.ids)
        if persona_id:
            yield profile_reply(panel.registry.get(persona_id), sources=panel.sources)
            return
        yield Reply("这位嘉宾已不在名单中。", kind="error")
        return
    yield Reply("这个按钮已失效。", kind="error")


async def start_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Greet a new user with the help text."""
    async for reply in help_command(service, turn):
        yield reply


async def help_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Explain the bot: what it is, its personas, example questions and the commands."""
    registry = service.panel.registry
    lines = [
        "我是嘉宾圆桌机器人：文章里接受采访的人物在这里成为嘉宾。"
        "他们只用自己在原文里说过的话回答，每句话都注明出处；资料里没谈过的问题，会直说没谈过。",
        "",
    ]
    if len(registry):
        names = "、".join(p.name for p in registry)
        lines += [f"嘉宾（{len(registry)} 位）：{names}", "", "可以这样问："]
        lines += [f"· {q}" for q in example_questions(registry)]
    else:
        lines.append("现在还没有嘉宾：请管理员先添加来源并运行 ingest。")
    lines += ["", "命令："]
    lines += [
        f"{c.usage}　{c.summary}"
        for c in COMMANDS.values()
        if c.listed and (not c.admin or turn.inbound.is_admin)
    ]
    yield Reply("\n".join(lines), title="使用说明")


async def personas_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """List the personas with a profile button each; `/personas 名字` shows one card."""
    panel = service.panel
    if turn.inbound.args:
        yield profile_reply(panel.registry.get(turn.inbound.args), sources=panel.sources)
        return
    if not len(panel.registry):
        yield Reply("现在还没有嘉宾。")
        return
    lines = [
        persona_heading(p) + (f"（{p.org}）" if p.org and p.org not in p.title else "")
        for p in panel.registry
    ]
    yield Reply(
        "\n".join(lines) + "\n\n点下面的名字查看简介和代表性发言。",
        title=f"嘉宾（{len(panel.registry)} 位）",
        buttons=tuple(Button(p.name, profile_payload(p.id)) for p in panel.registry),
    )


async def with_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Talk to one persona until `/with off`."""
    chat_id, key = turn.inbound.chat_id, turn.inbound.args.strip()
    if not key:
        active = service.store.active_persona(chat_id)
        if active and active in service.panel.registry:
            name = service.panel.registry.get(active).name
            yield Reply(f"你正在和{name}对话。发送 /with off 结束。")
        else:
            yield Reply("用法：/with 名字（之后的问题只由这位嘉宾回答），/with off 结束。")
        return
    if key.lower() in _OFF:
        service.store.set_active_persona(chat_id, None)
        yield Reply("已结束单独对话，之后的问题由最合适的嘉宾回答。")
        return
    persona = service.panel.registry.get(key)
    service.store.set_active_persona(chat_id, persona.id)
    yield Reply(
        f"现在起，你的问题由{persona.name}回答。发送 /with off 结束。", title=persona_heading(persona)
    )


async def ask_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Ask one persona once: `/ask 名字 问题`; without a known name, whoever fits answers."""
    args = turn.inbound.args.strip()
    found = split_persona(args, service.panel.registry)
    if not args or (found is not None and not found[1]):
        example = next(iter(service.panel.registry), None)
        name = example.name if example else "名字"
        yield Reply(f"用法：/ask 名字 问题，例如 /ask {name} 你怎么看？", kind="error")
        return
    # Without a leading name the question is routed: `/ask 问题` works too (and addresses a group).
    persona_ids, question = ([found[0].id], found[1]) if found else ([], args)
    async for reply in service.answer(
        turn, question, asked=question, topic=question, persona_ids=persona_ids
    ):
        yield reply


async def who_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Find who said something: `/who 说法`."""
    said = turn.inbound.args.strip().strip("“”\"「」『』'‘’ ")
    if not said:
        yield Reply("用法：/who 一句话或说法，例如 /who 开源模型永远追不上闭源模型", kind="error")
        return
    question = f"“{said}”是谁说的?"
    async for reply in service.answer(turn, question, asked=question, topic=said):
        yield reply


async def sources_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """List the articles: title, outlet, date, kind and who speaks in each."""
    panel = service.panel
    if not panel.sources:
        yield Reply("现在还没有任何来源。")
        return
    lines = []
    for n, (source_id, source) in enumerate(sorted(panel.sources.items()), start=1):
        kind = KIND_LABELS.get(source.meta.kind, "")
        speakers = "、".join(p.name for p in panel.registry if source_id in p.sources) or "（未识别出嘉宾）"
        lines.append(f"{n}. {describe_source(source_id, source.meta)}{' · ' + kind if kind else ''}")
        lines.append(f"   嘉宾：{speakers}")
    yield Reply("\n".join(lines), title=f"来源（{len(panel.sources)} 篇）")


async def quote_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Show a random signature quote, of one persona with `/quote 名字`."""
    panel = service.panel
    if not turn.inbound.args:
        yield daily_quote_text(panel, rng=service.rng, lead="")
        return
    persona = panel.registry.get(turn.inbound.args)
    quotes = signature_quotes(persona, limit=3, direct_only=True)
    if not quotes:
        yield Reply(f"{persona.name}在资料里没有留下可以引用的原话。", kind="refusal")
        return
    yield quote_reply(persona, service.rng.choice(quotes), sources=panel.sources)


async def subscribe_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Subscribe the chat to a daily quote: `/subscribe HH:MM [时区]`."""
    chat_id = turn.inbound.chat_id
    parts = turn.inbound.args.split()
    match = _TIME.match(parts[0]) if parts else None
    if match is None or len(parts) > 2:
        current = service.store.subscription(chat_id)
        now = f"当前订阅：每天 {current.hhmm}（{current.tz}）。" if current else ""
        yield Reply(f"{now}用法：/subscribe HH:MM [时区]，例如 /subscribe 08:30", kind="error")
        return
    tz = parts[1] if len(parts) == 2 else service.settings.timezone
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        yield Reply(f"不认识时区“{tz}”，请使用如 Asia/Shanghai 这样的名称。", kind="error")
        return
    hhmm = f"{int(match.group(1)):02d}:{match.group(2)}"
    subscription = service.store.subscribe(chat_id, hhmm, tz=tz)
    await service.notify(chat_id, subscription)
    yield Reply(f"好的，每天 {hhmm}（{tz}）给你发一条嘉宾语录。发送 /unsubscribe 取消。")


async def unsubscribe_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Cancel the chat's daily quote."""
    chat_id = turn.inbound.chat_id
    if service.store.unsubscribe(chat_id):
        await service.notify(chat_id, None)
        yield Reply("已取消每日语录。")
    else:
        yield Reply("你还没有订阅每日语录。发送 /subscribe HH:MM 订阅。")


async def debate_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Stage a debate (`/debate 命题 | 名字 名字`), one Reply per turn, until it ends or `/stop`."""
    async for reply in service.debate(turn):
        yield reply


async def map_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Show who stands where on a proposition (`/map 命题 | 名字 名字`), each with one cited claim."""
    proposition, _, names = turn.inbound.args.partition("|")
    if not proposition.strip():
        yield Reply("用法：/map 命题（可加 | 名字 名字），例如 /map 大模型会让程序员失业", kind="error")
        return
    panel = service.panel
    found = await asyncio.to_thread(stance_map, panel, proposition, persona_ids=names.split())
    yield map_reply(found, sources=panel.sources)


async def stop_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Stop the chat's running debate."""
    stopped = service.stop(turn.inbound.chat_id)
    yield Reply("好的，辩论会在当前发言结束后停止。" if stopped else "现在没有进行中的辩论。")


async def reload_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Re-ingest the sources and swap in the new panel; report what changed."""
    yield Reply("正在重新加载资料，请稍候……", kind="admin")
    report = await service.reload()
    yield Reply(report.to_text(), kind="admin", title="重新加载完成")


async def addsource_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Add the attached document as a source, then reload; on failure nothing changes."""
    document = turn.inbound.document
    if document is None:
        yield Reply("请发送 .txt / .md / .html 文件，并在文件说明里写 /addsource。", kind="error")
        return
    yield Reply(f"正在添加 {document.filename} 并重新加载，请稍候……", kind="admin")
    report = await service.add_source(document)
    yield Reply(report.to_text(), kind="admin", title="来源已添加")


async def stats_command(service: Core, turn: Turn) -> AsyncIterator[Reply]:
    """Show personas, quotes, chats, questions answered and the index age."""
    panel = service.panel
    quotes = sum(len(p.quotes) for p in panel.registry)
    lines = [
        f"嘉宾：{len(panel.registry)} 位",
        f"引文：{quotes} 条",
        f"来源：{len(panel.sources)} 篇",
        f"会话：{service.store.chat_count()} 个",
        f"已回答问题：{service.store.counter('answered')} 个（共收到 {service.store.counter('questions')} 个）",
        f"索引已建立：{format_age(time.time() - service.built_at)}",
    ]
    yield Reply("\n".join(lines), kind="admin", title="统计")


def split_persona(args: str, registry: PersonaRegistry) -> tuple[Persona, str] | None:
    """Split `名字 问题` at the longest prefix that names a persona (id, name or alias)."""
    text = args.strip()
    for end in range(len(text), 0, -1):
        key = text[:end]
        if key.strip() and key in registry:
            return registry.get(key), text[end:].lstrip(_NAME_SEPARATORS)
    return None


def example_questions(registry: PersonaRegistry, *, limit: int = 3) -> list[str]:
    """Suggest questions the panel can answer: a persona on a stance topic, else `/who` a signature quote."""
    personas = sorted(registry, key=lambda p: (-len(p.quotes), p.id))
    examples: list[str] = []
    for persona in personas:
        topics = [s.topic for s in persona.stances] + persona.topics
        topic = next((t for t in topics if not t.isascii()), "")
        if topic:
            examples.append(f"{persona.name}怎么看{topic}？")
    for persona in personas:
        for citation in signature_quotes(persona, limit=1, direct_only=True):
            clause = re.split(r"[，,。；;！？!?]", citation.quote)[0]
            examples.append(f"/who {clause if len(clause) >= 6 else citation.quote}")
    return examples[:limit]


def format_age(seconds: float) -> str:
    """Say how long ago, roughly: `3 分钟`, `2 小时 5 分钟`, `1 天 3 小时`."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "不到 1 分钟"
    if minutes < 60:
        return f"{minutes} 分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} 小时 {minutes} 分钟"
    days, hours = divmod(hours, 24)
    return f"{days} 天 {hours} 小时"


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("start", start_command, "/start", "开始", listed=False),
        Command("help", help_command, "/help", "使用说明"),
        Command("personas", personas_command, "/personas", "嘉宾列表与简介"),
        Command("with", with_command, "/with 名字", "只和这位嘉宾对话（/with off 结束）"),
        Command("ask", ask_command, "/ask [名字] 问题", "提问；写上名字就只问这位嘉宾"),
        Command("who", who_command, "/who 说法", "查一句话是谁说的"),
        Command("sources", sources_command, "/sources", "资料来源的文章"),
        Command("quote", quote_command, "/quote [名字]", "随机一条嘉宾语录"),
        Command("subscribe", subscribe_command, "/subscribe HH:MM", "每天定时收到一条语录"),
        Command("unsubscribe", unsubscribe_command, "/unsubscribe", "取消每日语录"),
        Command("debate", debate_command, "/debate 命题", "让嘉宾们就一个命题辩论"),
        Command("stop", stop_command, "/stop", "停止正在进行的辩论"),
        Command("map", map_command, "/map 命题", "看嘉宾们在一个命题上各持什么立场"),
        Command("reload", reload_command, "/reload", "重新加载资料（管理员）", admin=True),
        Command(
            "addsource",
            addsource_command,
            "/addsource",
            "随文件发送，添加来源（管理员）",
            admin=True,
        ),
        Command("stats", stats_command, "/stats", "运行统计（管理员）", admin=True),
    )
}
"""Every chat command by name (without the slash), in `/help` order."""
