"""Chat state on disk: active personas, daily-quote subscriptions, recent history and counters.

SQLite (stdlib `sqlite3`) in WAL mode. Every write is its own transaction, committed before the
method returns, so killing the process (even `kill -9`) loses nothing that was acknowledged.
One connection is shared by all threads behind a lock; each call is a few local reads or writes
(well under a millisecond), so the async service calls the store directly instead of through
`asyncio.to_thread`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.settings import Settings

logger = logging.getLogger(__name__)

DB_NAME = "panelbot.sqlite3"
HISTORY_SIZE = 10
"""Exchanges kept per chat; older ones are deleted as new ones arrive."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    chat_id TEXT PRIMARY KEY,
    active_persona TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    chat_id TEXT PRIMARY KEY,
    hhmm TEXT NOT NULL,
    tz TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id TEXT NOT NULL,
    ts REAL NOT NULL,
    question TEXT NOT NULL,
    topic TEXT NOT NULL,
    personas TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_chat ON history (chat_id, id);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Subscription:
    """A chat's daily quote: local time `HH:MM` in an IANA time zone."""

    chat_id: str
    hhmm: str
    tz: str


@dataclass(frozen=True)
class Exchange:
    """One question of a chat and who answered it."""

    ts: float
    """Unix time of the question."""
    question: str
    """What the user typed."""
    topic: str
    """The question the panel was asked about; a follow-up keeps its predecessor's topic."""
    personas: tuple[str, ...]
    """Ids of the personas who answered; empty when the panel refused."""


def database_path(settings: Settings) -> Path | str:
    """Return the SQLite file (or `:memory:`) that `DATABASE_URL` names, by default under `DATA_DIR`.

    Raises:
        ConfigError: the URL is not an SQLite URL (Postgres needs a driver this build does not include).
    """
    url = settings.database_url.strip()
    if not url:
        return settings.data_dir / DB_NAME
    scheme = url.partition(":")[0].lower()
    if scheme.startswith("postgres"):
        raise ConfigError(
            "DATABASE_URL points at Postgres, but this build stores chat state in SQLite only: "
            "a Postgres store needs the optional driver `psycopg` and is not implemented yet. "
            "Leave DATABASE_URL empty (SQLite under DATA_DIR) or use sqlite:///path/to/file.sqlite3.",
            user_message="数据库配置有误，请联系管理员。",
        )
    if scheme != "sqlite" or not url.lower().startswith("sqlite:///"):
        raise ConfigError(
            f"DATABASE_URL must be empty or sqlite:///path (got scheme {scheme!r})",
            user_message="数据库配置有误，请联系管理员。",
        )
    path = url[len("sqlite:///") :]
    if not path:
        raise ConfigError(
            "DATABASE_URL sqlite:/// names no file", user_message="数据库配置有误，请联系管理员。"
        )
    return path if path == ":memory:" else Path(path)


class Store:
    """Chat state over one SQLite database; safe to share between threads."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, every statement is committed as it runs.
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash; only an OS crash may drop the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._lock:
            self._db.executescript(_SCHEMA)

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open the store the settings name."""
        return cls(database_path(settings))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement in its own committed transaction; return the rows changed."""
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one query and return all rows."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- chats -----------------------------------------------------------
    def touch_chat(self, chat_id: str) -> None:
        """Record that a chat was active now."""
        self._write(
            "INSERT INTO chats (chat_id, updated) VALUES (?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET updated = excluded.updated",
            (chat_id, self._clock()),
        )

    def active_persona(self, chat_id: str) -> str | None:
        """Return the persona a chat talks to (`/with`), or None."""
        rows = self._read("SELECT active_persona FROM chats WHERE chat_id = ?", (chat_id,))
        return str(rows[0][0]) if rows and rows[0][0] else None

    def set_active_persona(self, chat_id: str, persona_id: str | None) -> None:
        """Set (or with None clear) the persona a chat talks to."""
        self._write(
            "INSERT INTO chats (chat_id, active_persona, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET active_persona = excluded.active_persona, "
            "updated = excluded.updated",
            (chat_id, persona_id, self._clock()),
        )

    def chat_count(self) -> int:
        """Return how many chats have talked to the bot."""
        return int(self._read("SELECT COUNT(*) FROM chats")[0][0])

    # -- subscriptions ---------------------------------------------------
    def subscribe(self, chat_id: str, hhmm: str, *, tz: str) -> Subscription:
        """Subscribe a chat to a daily quote at `hhmm` in `tz`, replacing an earlier time."""
        self._write(
            "INSERT INTO subscriptions (chat_id, hhmm, tz) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET hhmm = excluded.hhmm, tz = excluded.tz",
            (chat_id, hhmm, tz),
        )
        return Subscription(chat_id, hhmm, tz)

    def unsubscribe(self, chat_id: str) -> bool:
        """Cancel a chat's daily quote; return whether it had one."""
        return self._write("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,)) > 0

    def subscription(self, chat_id: str) -> Subscription | None:
        """Return a chat's daily-quote subscription, if any."""
        rows = self._read("SELECT chat_id, hhmm, tz FROM subscriptions WHERE chat_id = ?", (chat_id,))
        return Subscription(*(str(v) for v in rows[0])) if rows else None

    def subscriptions(self) -> list[Subscription]:
        """Return every subscription, by chat id."""
        rows = self._read("SELECT chat_id, hhmm, tz FROM subscriptions ORDER BY chat_id")
        return [Subscription(*(str(v) for v in row)) for row in rows]

    # -- history ---------------------------------------------------------
    def add_exchange(self, chat_id: str, *, question: str, topic: str, personas: Sequence[str]) -> None:
        """Append an exchange to a chat's history, keeping the last `HISTORY_SIZE`."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO history (chat_id, ts, question, topic, personas) VALUES (?, ?, ?, ?, ?)",
                    (chat_id, self._clock(), question, topic, json.dumps(list(personas))),
                )
                self._db.execute(
                    "DELETE FROM history WHERE chat_id = ? AND id NOT IN "
                    "(SELECT id FROM history WHERE chat_id = ? ORDER BY id DESC LIMIT ?)",
                    (chat_id, chat_id, HISTORY_SIZE),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def history(self, chat_id: str) -> list[Exchange]:
        """Return a chat's recent exchanges, oldest first."""
        rows = self._read(
            "SELECT ts, question, topic, personas FROM history WHERE chat_id = ? ORDER BY id",
            (chat_id,),
        )
        return [Exchange(float(ts), str(q), str(topic), tuple(json.loads(p))) for ts, q, topic, p in rows]

    # -- counters --------------------------------------------------------
    def increment(self, name: str, by: int = 1) -> None:
        """Add to a named counter."""
        self._write(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def counter(self, name: str) -> int:
        """Return a named counter (0 if never incremented)."""
        rows = self._read("SELECT value FROM counters WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0
