"""The chat-state store on SQLite and on a throwaway Postgres server: restarts, crashes, history, counters, URLs."""

from __future__ import annotations

import itertools
import os
import pwd
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from bot.chat.message import Reply
from bot.chat.service import PanelService
from bot.chat.store import HISTORY_SIZE, Store, Subscription, database_path
from bot.errors import ConfigError
from bot.panel import Panel
from bot.settings import Settings
from tests.conftest import chat

psycopg: ModuleType | None
try:
    import psycopg
except ImportError:  # the Postgres tests skip
    psycopg = None


def settings_with(tmp_path: Path, url: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", database_url=url)  # type: ignore[call-arg]


# -- a throwaway Postgres server ----------------------------------------------


def postgres_bin() -> Path | None:
    """Return the directory holding `initdb` and `pg_ctl`, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return versions[-1].parent if versions else None


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    port: int
    _databases: itertools.count[int] = field(default_factory=itertools.count)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """Create an empty database; return its URL."""
        name = f"t{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a Postgres server in a temporary directory for the session; stop it afterwards."""
    if psycopg is None:
        pytest.skip("psycopg is not installed: pip install 'psycopg[binary]>=3.2,<4'")
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no Postgres server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0:  # Postgres refuses to run as root.
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server as")

    def run(*argv: str, check: bool = True) -> None:
        """Run a server binary, as the `postgres` user when we are root."""
        command = [str(bindir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            if shutil.which("runuser"):
                command = ["runuser", "-u", "postgres", "--", *command]
            else:
                command = ["su", "postgres", "-c", shlex.join(command)]
        subprocess.run(command, check=check, capture_output=True, timeout=60)

    # Not under pytest's tmp_path: its parents are private to root and the server user must reach it.
    root = Path(tempfile.mkdtemp(prefix="panelbot-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = free_port()
    options = f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    try:
        run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        # -l: the server must not inherit our pipes, or `run` would wait for it to exit.
        run("pg_ctl", "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "-t", "30", "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"cannot start Postgres: {exc.stderr.decode(errors='replace')}")
    try:
        yield PostgresServer(port)
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Backend:
    """Where a test's state lives: `url` is its DATABASE_URL."""

    name: str
    url: str

    def open(self, tmp_path: Path) -> Store:
        return Store.open(settings_with(tmp_path, self.url))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'state.sqlite3'}")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return Backend("postgres", server.new_database())


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on each backend (overrides the SQLite-only one of conftest)."""
    store = backend.open(tmp_path)
    yield store
    store.close()


# -- behaviour, on both backends ------------------------------------------------


async def test_restart_keeps_subscriptions_and_active_persona(
    tmp_path: Path, panel: Panel, corpus_settings: Settings, backend: Backend
) -> None:
    first = PanelService(panel, backend.open(tmp_path), corpus_settings)
    await chat(first, "/subscribe 07:45")
    await chat(first, "/with 赵启明")
    first.store.close()

    second = PanelService(panel, backend.open(tmp_path), corpus_settings)
    replies: list[Reply] = await chat(second, "价格战对行业有什么影响？")

    assert second.store.subscriptions() == [Subscription("test:1", "07:45", "Asia/Shanghai")]
    assert second.store.active_persona("test:1") == "zhao-qi-ming"
    assert [r.title for r in replies] == ["赵启明 · 星河智能创始人兼CEO"]
    second.store.close()


def test_kill_minus_nine_loses_nothing(tmp_path: Path, backend: Backend) -> None:
    script = (
        "import os, signal, sys\n"
        "from bot.settings import Settings\n"
        "from bot.chat.store import Store\n"
        "store = Store.open(Settings(_env_file=None, database_url=sys.argv[1]))\n"
        "store.subscribe('telegram:1', '09:00', tz='Asia/Shanghai')\n"
        "store.set_active_persona('telegram:1', 'li-tao')\n"
        "store.add_exchange('telegram:1', question='为什么？', topic='开源', personas=['li-tao'])\n"
        "store.increment('answered')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, backend.url], timeout=60, check=False)

    store = backend.open(tmp_path)
    assert done.returncode == -9
    assert store.subscription("telegram:1") == Subscription("telegram:1", "09:00", "Asia/Shanghai")
    assert store.active_persona("telegram:1") == "li-tao"
    assert [(e.question, e.topic, e.personas) for e in store.history("telegram:1")] == [
        ("为什么？", "开源", ("li-tao",))
    ]
    assert store.counter("answered") == 1
    store.close()


def test_store_uses_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3")
    store.touch_chat("a")
    with closing(sqlite3.connect(store.path)) as other:
        assert other.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
        assert other.execute("SELECT chat_id FROM chats").fetchall() == [("a",)]
    store.close()


def test_timestamps_keep_full_precision(backend: Backend, tmp_path: Path) -> None:
    target = database_path(settings_with(tmp_path, backend.url))
    store = Store(target, clock=lambda: 1767225600.123456)
    store.add_exchange("a", question="q", topic="t", personas=["x", "y"])

    assert store.history("a")[0].ts == 1767225600.123456
    assert store.history("a")[0].personas == ("x", "y")
    store.close()


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


def test_database_url_names_the_sqlite_file_or_the_postgres_server(tmp_path: Path) -> None:
    assert database_path(settings_with(tmp_path, "")) == tmp_path / "data" / "panelbot.sqlite3"
    assert database_path(settings_with(tmp_path, "sqlite:///state/bot.db")) == Path("state/bot.db")
    assert database_path(settings_with(tmp_path, f"sqlite:///{tmp_path}/x.db")) == tmp_path / "x.db"
    assert database_path(settings_with(tmp_path, "sqlite:///:memory:")) == ":memory:"
    assert database_path(settings_with(tmp_path, " postgres://bot@db/panel ")) == "postgres://bot@db/panel"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://db/panel", "sqlite:///path"),
        ("sqlite:///", "no file"),
    ],
)
def test_unsupported_database_url_is_a_clear_config_error(tmp_path: Path, url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Store.open(settings_with(tmp_path, url))


@pytest.mark.skipif(psycopg is None, reason="psycopg is not installed")
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_unreachable_postgres_is_a_config_error_naming_the_host_not_the_password(
    tmp_path: Path, scheme: str
) -> None:
    url = f"{scheme}://bot:s3cret-pw@127.0.0.1:{free_port()}/panel?connect_timeout=5"

    with pytest.raises(ConfigError) as info:
        Store.open(settings_with(tmp_path, url))

    message = str(info.value)
    assert "Postgres server at 127.0.0.1:" in message
    assert "s3cret-pw" not in message and info.value.__cause__ is None


def test_a_delivery_is_claimed_once_across_connections(backend: Backend, tmp_path: Path) -> None:
    first, second = backend.open(tmp_path), backend.open(tmp_path)
    try:
        assert first.claim_delivery("telegram:update:7") is True
        assert second.claim_delivery("telegram:update:7") is False
        assert first.claim_delivery("telegram:update:7") is False
        assert second.claim_delivery("wechat:msg:7") is True
    finally:
        first.close()
        second.close()


def test_old_deliveries_are_forgotten(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = Store(tmp_path / "state.sqlite3", clock=lambda: now[0])
    try:
        assert store.claim_delivery("telegram:update:1")
        now[0] += 4 * 86400
        for n in range(2, 102):  # pruning runs now and then, not on every claim
            store.claim_delivery(f"telegram:update:{n}")
        assert store.claim_delivery("telegram:update:1") is True
    finally:
        store.close()
