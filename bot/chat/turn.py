"""What a chat handler sees: the `Turn` it handles and the narrow `Core` it may ask things of.

Handlers (`bot.chat.commands`, `bot.chat.question`) and jobs (`bot.chat.scheduler`) depend on
this module only; `bot.chat.service.PanelService` implements `Core`, so nothing imports the service
back.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.chat.admin import ReloadReport
from bot.chat.message import Document, Inbound, Reply
from bot.chat.store import Exchange, Store, Subscription
from bot.panel import Panel
from bot.settings import Settings


@dataclass
class Turn:
    """One inbound message on its way through the service's stages."""

    inbound: Inbound
    handler: Handler | None = None
    done: bool = False
    exchange: Exchange | None = None
    """The question asked and who answered, when the message was a question."""


class Core(Protocol):
    """What a handler may ask of the chat core."""

    store: Store
    settings: Settings
    rng: random.Random
    seeds_seen: str

    @property
    def panel(self) -> Panel:
        """The Panel currently serving."""
        ...

    @property
    def built_at(self) -> float:
        """Unix time the serving Panel was built."""
        ...

    def answer(
        self, turn: Turn, question: str, *, asked: str, topic: str, persona_ids: Sequence[str] = ()
    ) -> AsyncIterator[Reply]:
        """Ask the panel; yield one Reply per answering persona, or the refusal."""
        ...

    def debate(self, turn: Turn) -> AsyncIterator[Reply]:
        """Stage the debate the turn asks for, one Reply per turn."""
        ...

    def stop(self, chat_id: str) -> bool:
        """Stop the chat's running debate; return whether one was running."""
        ...

    async def notify(self, chat_id: str, subscription: Subscription | None) -> None:
        """Tell the channel's scheduler about a (un)subscription."""
        ...

    async def reload(self) -> ReloadReport:
        """Rebuild the panel from the sources and swap it in."""
        ...

    async def add_source(self, document: Document) -> ReloadReport:
        """Store an uploaded source and reload."""
        ...


Handler = Callable[[Core, Turn], AsyncIterator[Reply]]
"""A command or question handler: streams its replies for one turn."""
