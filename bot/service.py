"""The channel-neutral chat core: one Inbound message in, a stream of Replies out.

Every channel (Telegram, WeChat, the terminal) calls `PanelService.handle` and renders what it
yields. Blocking work (answering, reloading) runs in worker threads; the serving Panel is swapped
for a freshly built one in a single assignment, so a question is always answered by one complete
Panel.

Follow-ups: a short plain message (at most `FOLLOW_UP_CHARS` characters) sent within
`FOLLOW_UP_SECONDS` of an answered question is read as a follow-up when it brings no topic words
of its own (`那李涛呢？`) or opens or ends like one (`为什么？`, `那他怎么看？`, `…呢`). It is asked
together with the previous question's topic, of the personas it names, or else of those who
answered last. In extractive mode this surfaces the same person's words on that topic again; it
never invents a reason.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import admin
from bot.admin import ReloadReport
from bot.compose.answer import AskResult
from bot.debate import iter_debate
from bot.errors import BotError
from bot.message import MAX_INBOUND_CHARS, Button, Document, Inbound, Reply
from bot.panel import Panel
from bot.persona.profile import Persona
from bot.persona.registry import PersonaRegistry
from bot.render import (
    CONTEXT_PREFIX,
    KIND_LABELS,
    PROFILE_PREFIX,
    ask_replies,
    context_reply,
    debate_reply,
    describe_source,
    persona_heading,
    profile_payload,
    profile_reply,
    quote_reply,
    resolve_key,
    signature_quotes,
)
from bot.router import content_terms
from bot.scheduler import daily_quote_text, seeds_fingerprint
from bot.settings import Settings
from bot.store import Exchange, Store, Subscription

logger = logging.getLogger(__name__)
T = TypeVar("T")
_WHO_IS = re.compile(r"^\s*@?(.{1,20}?)\s*(?:是谁|是什么人|是做什么的)\s*[?？]?\s*$")

STAGES: tuple[str, ...] = (
    "validate",  # drop unaddressed group chatter; refuse over-long text before doing any work
    "route",  # pick the handler: a command (admin-only ones checked here), a button, or a question
    "run",  # run the handler, streaming its replies (a debate yields one per turn)
    "record",  # remember the chat and the exchange for follow-ups, count the question
)

GENERIC_ERROR = "抱歉，出了点问题，请稍后再试。"
ADMIN_ONLY = "只有管理员可以使用这个命令。"
FOLLOW_UP_CHARS = 20
FOLLOW_UP_SECONDS = 30 * 60
_FOLLOW_UP = re.compile(
    r"^(?:那|那么|所以|为什么|为啥|怎么讲|怎么说|具体|详细|展开|还有|然后|比如|举个例子)"
    r"|(?<!其)[他她]|呢[？?！!。.…\s]*$"
)
_TIME = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")
_OFF = frozenset({"off", "none", "关闭", "退出", "结束", "取消"})
_NAME_SEPARATORS = " \t\n:：,，、"
DRAIN_SECONDS = 30.0
"""How long a reload waits for questions still running on the old Panel before pruning its index."""


Handler = Callable[["PanelService", "Turn"], AsyncIterator[Reply]]
SubscriptionListener = Callable[[str, Subscription | None], Awaitable[None] | None]
"""Told `(chat_id, subscription)` after `/subscribe`, `(chat_id, None)` after `/unsubscribe`."""


@dataclass(frozen=True)
class Command:
    """A chat command: its handler and how `/help` presents it."""

    name: str
    handler: Handler
    usage: str
    summary: str
    admin: bool = False
    listed: bool = True


@dataclass
class Turn:
    """One inbound message on its way through the stages."""

    inbound: Inbound
    handler: Handler | None = None
    done: bool = False
    exchange: Exchange | None = None
    """The question asked and who answered, when the message was a question."""


@dataclass(frozen=True)
class Serving:
    """The Panel answering questions and when it was built; replaced as a whole on reload."""

    panel: Panel
    built_at: float


@dataclass(frozen=True)
class FollowUp:
    """A short message read as a follow-up on the previous topic."""

    question: str
    topic: str
    persona_ids: tuple[str, ...]


@dataclass
class _Flights:
    """Questions running on each Panel, so a reload prunes an index only once nobody reads it."""

    running: Counter[int] = field(default_factory=Counter)
    idle: asyncio.Condition = field(default_factory=asyncio.Condition)


class PanelService:
    """The chat core channels talk to (implements `bot.message.ChatService`)."""

    def __init__(
        self, panel: Panel, store: Store, settings: Settings, *, rng: random.Random | None = None
    ) -> None:
        self._serving = Serving(panel, time.time())
        self.store = store
        self.settings = settings
        self.rng = rng or random.Random()
        self.subscription_listener: SubscriptionListener | None = None
        """Set by an adapter that schedules daily quotes, to hear of (un)subscriptions."""
        self.seeds_seen = seeds_fingerprint(settings.seeds_dir)
        """Fingerprint of `seeds/` at the last build or reload attempt (see `scheduler.check_seeds`)."""
        self._reload_lock = asyncio.Lock()
        self._flights = _Flights()
        self._debates: dict[str, threading.Event] = {}

    @classmethod
    def open(cls, settings: Settings) -> PanelService:
        """Open the Panel and the store the settings name (blocking: loads the index)."""
        return cls(Panel.open(settings), Store.open(settings), settings)

    @property
    def panel(self) -> Panel:
        """The Panel currently serving."""
        return self._serving.panel

    @property
    def built_at(self) -> float:
        """Unix time the serving Panel was built."""
        return self._serving.built_at

    # -- the pipeline ----------------------------------------------------
    async def handle(self, inbound: Inbound) -> AsyncIterator[Reply]:
        """Yield the replies to one inbound message; errors become one error Reply here and only here."""
        turn = Turn(inbound)
        stages = {"validate": self._validate, "route": self._route, "run": self._run, "record": self._record}
        try:
            for name in STAGES:
                async for reply in stages[name](turn):
                    yield reply
                if turn.done:
                    return
        except BotError as error:
            logger.info("chat %s: %s", inbound.chat_id, error)
            yield Reply(error.user_message, kind="error")
        except Exception:
            logger.exception("chat %s: failed to handle %r", inbound.chat_id, inbound.command or "question")
            yield Reply(GENERIC_ERROR, kind="error")

    async def _validate(self, turn: Turn) -> AsyncIterator[Reply]:
        """Drop group messages not addressed to the bot; refuse over-long text."""
        inbound = turn.inbound
        if inbound.is_group and not inbound.addressed:
            turn.done = True
            return
        length = max(len(inbound.text), len(inbound.args))
        if length > MAX_INBOUND_CHARS:
            turn.done = True
            yield Reply(
                f"消息太长了（{length} 字），请控制在 {MAX_INBOUND_CHARS} 字以内，再发一次。", kind="error"
            )

    async def _route(self, turn: Turn) -> AsyncIterator[Reply]:
        """Choose the handler; unknown commands and non-admins running admin commands stop here."""
        inbound = turn.inbound
        if inbound.callback is not None:
            turn.handler = PanelService.button_pressed
            return
        if inbound.command is None:
            turn.handler = PanelService.question
            if inbound.document is not None and not inbound.text.strip():
                turn.handler = PanelService.stray_document
            return
        name = inbound.command.lower().lstrip("/").partition("@")[0]
        command = COMMANDS.get(name)
        if command is None:
            turn.done = True
            yield Reply(f"没有 /{name} 这个命令，发送 /help 查看可用的命令。", kind="error")
        elif command.admin and not inbound.is_admin:
            turn.done = True
            yield Reply(ADMIN_ONLY, kind="error")
        else:
            turn.handler = command.handler

    async def _run(self, turn: Turn) -> AsyncIterator[Reply]:
        """Run the chosen handler."""
        if turn.handler is not None:
            async for reply in turn.handler(self, turn):
                yield reply

    async def _record(self, turn: Turn) -> AsyncIterator[Reply]:
        """Remember the chat and, for a question, the exchange and the counters."""
        chat_id = turn.inbound.chat_id
        self.store.touch_chat(chat_id)
        if turn.exchange is not None:
            ex = turn.exchange
            self.store.add_exchange(chat_id, question=ex.question, topic=ex.topic, personas=ex.personas)
            self.store.increment("questions")
            if ex.personas:
                self.store.increment("answered")
        return
        yield  # an async generator like the other stages, though it has nothing to say

    # -- answering ---------------------------------------------------------
    async def _ask(self, question: str, persona_ids: Sequence[str] = ()) -> tuple[Panel, AskResult]:
        """Ask the serving Panel in a worker thread; return the Panel that answered and its result."""
        panel = self.panel
        self._flights.running[id(panel)] += 1
        try:
            result = await asyncio.to_thread(panel.ask, question, persona_ids=persona_ids)
        finally:
            self._flights.running[id(panel)] -= 1
            async with self._flights.idle:
                self._flights.idle.notify_all()
        return panel, result

    async def _answer(
        self, turn: Turn, question: str, *, asked: str, topic: str, persona_ids: Sequence[str] = ()
    ) -> AsyncIterator[Reply]:
        """Ask the panel and yield one Reply per answering persona, or the refusal."""
        panel, result = await self._ask(question, persona_ids)
        personas = {p.id: p for p in panel.registry}
        answered = tuple(a.persona_id for a in result.answers)
        turn.exchange = Exchange(time.time(), asked, topic, answered)
        for reply in ask_replies(result, personas=personas, sources=panel.sources):
            yield reply

    def follow_up(self, chat_id: str, text: str, registry: PersonaRegistry) -> FollowUp | None:
        """Read a short message as a follow-up on the chat's last answered question, if it is one."""
        history = self.store.history(chat_id)
        last = history[-1] if history else None
        if last is None or not last.personas or len(text) > FOLLOW_UP_CHARS:
            return None
        if time.time() - last.ts > FOLLOW_UP_SECONDS:
            return None
        if content_terms(text, registry) and not _FOLLOW_UP.search(text):
            return None
        named = tuple(p.id for p in registry.find_mentions(text))
        ids = named or tuple(pid for pid in last.personas if pid in registry)
        return FollowUp(f"{last.topic} {text}", last.topic, ids) if ids else None

    async def question(self, turn: Turn) -> AsyncIterator[Reply]:
        """Answer plain text: the chat's `/with` persona, a follow-up's personas, or whoever the router picks."""
        inbound = turn.inbound
        text = inbound.text.strip()
        if not text:
            if not inbound.is_group:
                yield Reply("请发送文字问题，或发送 /help 查看用法。")
            return
        registry = self.panel.registry
        asked_about = _WHO_IS.match(text)
        if asked_about and asked_about.group(1) in registry:  # `李开复是谁？` asks for the profile card
            yield profile_reply(registry.get(asked_about.group(1)), sources=self.panel.sources)
            return
        active = self.store.active_persona(inbound.chat_id)
        if active and active not in registry:
            self.store.set_active_persona(inbound.chat_id, None)
            yield Reply(f"嘉宾 {active} 已不在名单中，已结束单独对话。")
            active = None
        follow = self.follow_up(inbound.chat_id, text, registry)
        persona_ids: Sequence[str] = [active] if active else (follow.persona_ids if follow else ())
        async for reply in self._answer(
            turn,
            follow.question if follow else text,
            asked=text,
            topic=follow.topic if follow else text,
            persona_ids=persona_ids,
        ):
            yield reply

    async def stray_document(self, turn: Turn) -> AsyncIterator[Reply]:
        """Explain how to add a source when a file arrives without `/addsource`."""
        yield Reply("要添加来源，请发送 .txt / .md / .html 文件，并在说明里写 /addsource。")

    # -- buttons -----------------------------------------------------------
    async def button_pressed(self, turn: Turn) -> AsyncIterator[Reply]:
        """Show what a button points at: a cited span in its source, or a persona's profile card."""
        panel = self.panel
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

    # -- commands ----------------------------------------------------------
    async def start_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Greet a new user with the help text."""
        async for reply in self.help_command(turn):
            yield reply

    async def help_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Explain the bot: what it is, its personas, example questions and the commands."""
        registry = self.panel.registry
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

    async def personas_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """List the personas with a profile button each; `/personas 名字` shows one card."""
        panel = self.panel
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

    async def with_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Talk to one persona until `/with off`."""
        chat_id, key = turn.inbound.chat_id, turn.inbound.args.strip()
        if not key:
            active = self.store.active_persona(chat_id)
            if active and active in self.panel.registry:
                name = self.panel.registry.get(active).name
                yield Reply(f"你正在和{name}对话。发送 /with off 结束。")
            else:
                yield Reply("用法：/with 名字（之后的问题只由这位嘉宾回答），/with off 结束。")
            return
        if key.lower() in _OFF:
            self.store.set_active_persona(chat_id, None)
            yield Reply("已结束单独对话，之后的问题由最合适的嘉宾回答。")
            return
        persona = self.panel.registry.get(key)
        self.store.set_active_persona(chat_id, persona.id)
        yield Reply(
            f"现在起，你的问题由{persona.name}回答。发送 /with off 结束。", title=persona_heading(persona)
        )

    async def ask_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Ask one persona once: `/ask 名字 问题`; without a known name, whoever fits answers."""
        args = turn.inbound.args.strip()
        found = split_persona(args, self.panel.registry)
        if not args or (found is not None and not found[1]):
            example = next(iter(self.panel.registry), None)
            name = example.name if example else "名字"
            yield Reply(f"用法：/ask 名字 问题，例如 /ask {name} 你怎么看？", kind="error")
            return
        # Without a leading name the question is routed: `/ask 问题` works too (and addresses a group).
        persona_ids, question = ([found[0].id], found[1]) if found else ([], args)
        async for reply in self._answer(
            turn, question, asked=question, topic=question, persona_ids=persona_ids
        ):
            yield reply

    async def who_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Find who said something: `/who 说法`."""
        said = turn.inbound.args.strip().strip("“”\"「」『』'‘’ ")
        if not said:
            yield Reply("用法：/who 一句话或说法，例如 /who 开源模型永远追不上闭源模型", kind="error")
            return
        question = f"“{said}”是谁说的?"
        async for reply in self._answer(turn, question, asked=question, topic=said):
            yield reply

    async def sources_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """List the articles: title, outlet, date, kind and who speaks in each."""
        panel = self.panel
        if not panel.sources:
            yield Reply("现在还没有任何来源。")
            return
        lines = []
        for n, (source_id, source) in enumerate(sorted(panel.sources.items()), start=1):
            kind = KIND_LABELS.get(source.meta.kind, "")
            speakers = (
                "、".join(p.name for p in panel.registry if source_id in p.sources) or "（未识别出嘉宾）"
            )
            lines.append(f"{n}. {describe_source(source_id, source.meta)}{' · ' + kind if kind else ''}")
            lines.append(f"   嘉宾：{speakers}")
        yield Reply("\n".join(lines), title=f"来源（{len(panel.sources)} 篇）")

    async def quote_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Show a random signature quote, of one persona with `/quote 名字`."""
        panel = self.panel
        if not turn.inbound.args:
            yield daily_quote_text(panel, rng=self.rng, lead="")
            return
        persona = panel.registry.get(turn.inbound.args)
        quotes = signature_quotes(persona, limit=3, direct_only=True)
        if not quotes:
            yield Reply(f"{persona.name}在资料里没有留下可以引用的原话。", kind="refusal")
            return
        yield quote_reply(persona, self.rng.choice(quotes), sources=panel.sources)

    async def subscribe_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Subscribe the chat to a daily quote: `/subscribe HH:MM [时区]`."""
        chat_id = turn.inbound.chat_id
        parts = turn.inbound.args.split()
        match = _TIME.match(parts[0]) if parts else None
        if match is None or len(parts) > 2:
            current = self.store.subscription(chat_id)
            now = f"当前订阅：每天 {current.hhmm}（{current.tz}）。" if current else ""
            yield Reply(f"{now}用法：/subscribe HH:MM [时区]，例如 /subscribe 08:30", kind="error")
            return
        tz = parts[1] if len(parts) == 2 else self.settings.timezone
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            yield Reply(f"不认识时区“{tz}”，请使用如 Asia/Shanghai 这样的名称。", kind="error")
            return
        hhmm = f"{int(match.group(1)):02d}:{match.group(2)}"
        subscription = self.store.subscribe(chat_id, hhmm, tz=tz)
        await self._notify(chat_id, subscription)
        yield Reply(f"好的，每天 {hhmm}（{tz}）给你发一条嘉宾语录。发送 /unsubscribe 取消。")

    async def unsubscribe_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Cancel the chat's daily quote."""
        chat_id = turn.inbound.chat_id
        if self.store.unsubscribe(chat_id):
            await self._notify(chat_id, None)
            yield Reply("已取消每日语录。")
        else:
            yield Reply("你还没有订阅每日语录。发送 /subscribe HH:MM 订阅。")

    async def _notify(self, chat_id: str, subscription: Subscription | None) -> None:
        """Tell the adapter's scheduler about a (un)subscription."""
        if self.subscription_listener is not None:
            outcome = self.subscription_listener(chat_id, subscription)
            if outcome is not None:
                await outcome

    async def debate_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Stage a debate (`/debate 命题 | 名字 名字`), one Reply per turn, until it ends or `/stop`."""
        chat_id = turn.inbound.chat_id
        proposition, _, names = turn.inbound.args.partition("|")
        proposition = proposition.strip()
        if not proposition:
            yield Reply(
                "用法：/debate 命题（可加 | 名字 名字），例如 /debate 开源模型能追上闭源模型", kind="error"
            )
            return
        if chat_id in self._debates:
            yield Reply("这里已经有一场辩论在进行，发送 /stop 结束它。", kind="error")
            return
        panel = self.panel
        persona_ids = [panel.registry.get(name).id for name in names.split()]
        stop = self._debates[chat_id] = threading.Event()
        self._flights.running[id(panel)] += 1
        try:
            turns = iter_debate(panel, proposition, persona_ids=persona_ids, should_stop=stop.is_set)
            async for debate_turn in _until(turns, stop):
                yield debate_reply(debate_turn, sources=panel.sources)
        finally:
            del self._debates[chat_id]
            self._flights.running[id(panel)] -= 1
            async with self._flights.idle:
                self._flights.idle.notify_all()
        if stop.is_set():
            yield Reply("辩论已停止。")

    async def stop_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Stop the chat's running debate."""
        stopped = self.stop(turn.inbound.chat_id)
        yield Reply("好的，辩论会在当前发言结束后停止。" if stopped else "现在没有进行中的辩论。")

    def stop(self, chat_id: str) -> bool:
        """Ask the chat's running debate to stop after the current turn; return whether one was running."""
        event = self._debates.get(chat_id)
        if event is None:
            return False
        event.set()
        return True

    # -- admin ---------------------------------------------------------------
    async def reload_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Re-ingest the sources and swap in the new panel; report what changed."""
        yield Reply("正在重新加载资料，请稍候……", kind="admin")
        report = await self.reload()
        yield Reply(report.to_text(), kind="admin", title="重新加载完成")

    async def addsource_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Add the attached document as a source, then reload; on failure nothing changes."""
        document = turn.inbound.document
        if document is None:
            yield Reply("请发送 .txt / .md / .html 文件，并在文件说明里写 /addsource。", kind="error")
            return
        yield Reply(f"正在添加 {document.filename} 并重新加载，请稍候……", kind="admin")
        report = await self.add_source(document)
        yield Reply(report.to_text(), kind="admin", title="来源已添加")

    async def stats_command(self, turn: Turn) -> AsyncIterator[Reply]:
        """Show personas, quotes, chats, questions answered and the index age."""
        panel = self.panel
        quotes = sum(len(p.quotes) for p in panel.registry)
        lines = [
            f"嘉宾：{len(panel.registry)} 位",
            f"引文：{quotes} 条",
            f"来源：{len(panel.sources)} 篇",
            f"会话：{self.store.chat_count()} 个",
            f"已回答问题：{self.store.counter('answered')} 个（共收到 {self.store.counter('questions')} 个）",
            f"索引已建立：{format_age(time.time() - self.built_at)}",
        ]
        yield Reply("\n".join(lines), kind="admin", title="统计")

    async def reload(self) -> ReloadReport:
        """Rebuild the panel from `seeds/` in a worker thread and swap it in; the old one serves meanwhile.

        Raises:
            BotError: the reload failed; the old panel keeps serving and no file changed.
        """
        return await self._rebuild(lambda serving: admin.reload(self.settings, serving))

    async def add_source(self, document: Document) -> ReloadReport:
        """Store an uploaded source and reload; on failure the seeds, profiles and panel stay as they were."""
        return await self._rebuild(lambda serving: admin.add_source(self.settings, serving, document))

    async def _rebuild(self, build: Callable[[Panel], tuple[Panel, ReloadReport]]) -> ReloadReport:
        """Build a new panel off the event loop, swap it in, then prune old index generations."""
        async with self._reload_lock:
            old = self.panel
            try:
                panel, report = await asyncio.to_thread(build, old)
            finally:
                self.seeds_seen = await asyncio.to_thread(seeds_fingerprint, self.settings.seeds_dir)
            self._serving = Serving(panel, time.time())  # the swap
            logger.info("reloaded in %.1fs: %s", report.seconds, report.to_text().replace("\n", " | "))
            await self._drain(old)
            await asyncio.to_thread(panel.index.prune)
        return report

    async def _drain(self, panel: Panel) -> None:
        """Wait (boundedly) until no question is running on `panel`."""
        flights = self._flights
        async with flights.idle:
            try:
                await asyncio.wait_for(
                    flights.idle.wait_for(lambda: flights.running[id(panel)] <= 0), DRAIN_SECONDS
                )
            except TimeoutError:
                logger.warning("questions still running on the old panel after %.0fs", DRAIN_SECONDS)
        flights.running.pop(id(panel), None)


async def _until(turns: Iterator[T], stop: threading.Event) -> AsyncIterator[T]:
    """Yield a debate's turns until it ends or `stop` is set; each blocking step runs in a thread."""
    iterator = turns
    done = object()
    while not stop.is_set():
        item: Any = await asyncio.to_thread(next, iterator, done)
        if item is done or stop.is_set():
            return
        yield item


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
        Command("start", PanelService.start_command, "/start", "开始", listed=False),
        Command("help", PanelService.help_command, "/help", "使用说明"),
        Command("personas", PanelService.personas_command, "/personas", "嘉宾列表与简介"),
        Command("with", PanelService.with_command, "/with 名字", "只和这位嘉宾对话（/with off 结束）"),
        Command("ask", PanelService.ask_command, "/ask [名字] 问题", "提问；写上名字就只问这位嘉宾"),
        Command("who", PanelService.who_command, "/who 说法", "查一句话是谁说的"),
        Command("sources", PanelService.sources_command, "/sources", "资料来源的文章"),
        Command("quote", PanelService.quote_command, "/quote [名字]", "随机一条嘉宾语录"),
        Command("subscribe", PanelService.subscribe_command, "/subscribe HH:MM", "每天定时收到一条语录"),
        Command("unsubscribe", PanelService.unsubscribe_command, "/unsubscribe", "取消每日语录"),
        Command("debate", PanelService.debate_command, "/debate 命题", "让嘉宾们就一个命题辩论"),
        Command("stop", PanelService.stop_command, "/stop", "停止正在进行的辩论"),
        Command("reload", PanelService.reload_command, "/reload", "重新加载资料（管理员）", admin=True),
        Command(
            "addsource",
            PanelService.addsource_command,
            "/addsource",
            "随文件发送，添加来源（管理员）",
            admin=True,
        ),
        Command("stats", PanelService.stats_command, "/stats", "运行统计（管理员）", admin=True),
    )
}
"""Every chat command by name (without the slash), in `/help` order."""
