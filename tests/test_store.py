"""The SQLite chat-state store: persistence across restarts and crashes, history, counters, URLs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.message import Reply
from bot.panel import Panel
from bot.service import PanelService
from bot.settings import Settings
from bot.store import HISTORY_SIZE, Store, Subscription, database_path
from tests.conftest import chat


def settings_with(tmp_path: Path, url: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", database_url=url)  # type: ignore[call-arg]


async def test_restart_keeps_subscriptions_and_active_persona(
    tmp_path: Path, panel: Panel, corpus_settings: Settings
) -> None:
    path = tmp_path / "state.sqlite3"
    first = PanelService(panel, Store(path), corpus_settings)
    await chat(first, "/subscribe 07:45")
    await chat(first, "/with 赵启明")
    first.store.close()

    second = PanelService(panel, Store(path), corpus_settings)
    replies: list[Reply] = await chat(second, "价格战对行业有什么影响？")

    assert second.store.subscriptions() == [Subscription("test:1", "07:45", "Asia/Shanghai")]
    assert second.store.active_persona("test:1") == "zhao-qi-ming"
    assert [r.title for r in replies] == ["赵启明 · 星河智能创始人兼CEO"]


def test_kill_minus_nine_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from bot.store import Store\n"
        "store = Store(Path(sys.argv[1]))\n"
        "store.subscribe('telegram:1', '09:00', tz='Asia/Shanghai')\n"
        "store.set_active_persona('telegram:1', 'li-tao')\n"
        "store.add_exchange('telegram:1', question='为什么？', topic='开源', personas=['li-tao'])\n"
        "store.increment('answered')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], timeout=60, check=False)

    store = Store(path)
    assert done.returncode == -9
    assert store.subscription("telegram:1") == Subscription("telegram:1", "09:00", "Asia/Shanghai")
    assert store.active_persona("telegram:1") == "li-tao"
    assert [(e.question, e.topic, e.personas) for e in store.history("telegram:1")] == [
        ("为什么？", "开源", ("li-tao",))
    ]
    assert store.counter("answered") == 1


def test_store_uses_wal(store: Store) -> None:
    store.touch_chat("a")
    with closing(sqlite3.connect(store.path)) as other:
        assert other.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
        assert other.execute("SELECT chat_id FROM chats").fetchall() == [("a",)]


def test_history_keeps_the_last_exchanges_per_chat(store: Store) -> None:
    for n in range(HISTORY_SIZE + 5):
        store.add_exchange("a", question=f"q{n}", topic=f"t{n}", personas=["x"])
    store.add_exchange("b", question="other", topic="other", personas=[])

    kept = store.history("a")

    assert [e.question for e in kept] == [f"q{n}" for n in range(5, HISTORY_SIZE + 5)]
    assert [e.personas for e in store.history("b")] == [()]


def test_unsubscribe_and_clearing_the_persona(store: Store) -> None:
    store.subscribe("a", "08:00", tz="Asia/Shanghai")
    store.subscribe("a", "21:30", tz="Europe/Berlin")
    store.set_active_persona("a", "li-tao")
    store.set_active_persona("a", None)

    assert store.subscription("a") == Subscription("a", "21:30", "Europe/Berlin")
    assert (store.unsubscribe("a"), store.unsubscribe("a")) == (True, False)
    assert (store.active_persona("a"), store.chat_count()) == (None, 1)


def test_counters_are_safe_across_threads(store: Store) -> None:
    def bump() -> None:
        for _ in range(200):
            store.increment("questions")

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.counter("questions") == 1600


def test_database_url_names_the_sqlite_file(tmp_path: Path) -> None:
    assert database_path(settings_with(tmp_path, "")) == tmp_path / "data" / "panelbot.sqlite3"
    assert database_path(settings_with(tmp_path, "sqlite:///state/bot.db")) == Path("state/bot.db")
    assert database_path(settings_with(tmp_path, f"sqlite:///{tmp_path}/x.db")) == tmp_path / "x.db"
    assert database_path(settings_with(tmp_path, "sqlite:///:memory:")) == ":memory:"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://bot@db/panel", "psycopg"),
        ("mysql://db/panel", "sqlite:///path"),
        ("sqlite:///", "no file"),
    ],
)
def test_unsupported_database_url_is_a_clear_config_error(tmp_path: Path, url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Store.open(settings_with(tmp_path, url))
