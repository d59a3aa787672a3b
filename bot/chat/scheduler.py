"""Channel-neutral jobs: notice changed seeds and reload, and pick the daily quote.

A messenger adapter wires these into its own scheduler (python-telegram-bot's JobQueue) under
stable job names: `JOB_RELOAD` every `settings.reload_interval_minutes`, and one
`daily_quote_job(chat_id)` per subscription at `daily_time(subscription)`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.chat.admin import ReloadReport
from bot.chat.message import Reply
from bot.chat.render import quote_reply, signature_quotes
from bot.chat.store import Subscription
from bot.chat.turn import Core
from bot.panel import Panel

logger = logging.getLogger(__name__)

JOB_RELOAD = "reload_personas"
DAILY_QUOTE_LEAD = "今日语录："
NO_QUOTE = "还没有可以引用的嘉宾发言。"


def daily_quote_job(chat_id: str) -> str:
    """Return the stable job name of a chat's daily quote."""
    return f"daily_quote:{chat_id}"


def seeds_fingerprint(seeds_dir: Path) -> str:
    """Return a hash of the names and contents of the visible files in `seeds_dir` ("" if missing)."""
    if not seeds_dir.is_dir():
        return ""
    digest = hashlib.sha256()
    for path in sorted(seeds_dir.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class SeedCheck:
    """Whether the seeds differ from those last loaded (or last tried)."""

    due: bool
    fingerprint: str


def check_seeds(seeds_dir: Path, *, last: str) -> SeedCheck:
    """Compare the seeds with the fingerprint of the last reload (successful or not)."""
    fingerprint = seeds_fingerprint(seeds_dir)
    return SeedCheck(due=fingerprint != last, fingerprint=fingerprint)


async def reload_if_changed(service: Core) -> ReloadReport | None:
    """Reload the service's panel when `seeds/` changed since the last attempt; None when not due.

    A failed reload is logged and not retried until the seeds change again.
    """
    check = check_seeds(service.settings.seeds_dir, last=service.seeds_seen)
    if not check.due:
        return None
    logger.info("seeds changed; reloading")
    return await service.reload()


def daily_quote_text(
    panel: Panel, *, rng: random.Random | None = None, lead: str = DAILY_QUOTE_LEAD
) -> Reply:
    """Return a random signature quote (a persona's own direct words) with its citation."""
    rng = rng or random.Random()
    choices = [(p, c) for p in panel.registry for c in signature_quotes(p, limit=3, direct_only=True)]
    if not choices:
        return Reply(NO_QUOTE, kind="info")
    persona, citation = rng.choice(choices)
    return quote_reply(persona, citation, sources=panel.sources, lead=lead)


def daily_time(subscription: Subscription) -> dt.time:
    """Return the subscription's time of day, aware of its time zone (for `JobQueue.run_daily`)."""
    hours, minutes = (int(part) for part in subscription.hhmm.split(":"))
    return dt.time(hours, minutes, tzinfo=ZoneInfo(subscription.tz))
