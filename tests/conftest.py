"""Shared fixtures: a real Panel over the made-up articles in tests/articles/, a real Store, the service.

* `corpus_settings` (session): seeds/ (the four articles plus a sources.yaml), personas/ built by a
  real ingest, and a data dir for the embedded Chroma, all under one temporary directory.
* `panel` (session): `Panel.open` over that corpus; opening it loads the embedding model once.
* `store`: a fresh SQLite store in the test's tmp_path.
* `service`: a `PanelService` over the shared panel and the fresh store (seeded random choices).
* `fresh_settings` / `fresh_service`: a private copy of seeds/ and personas/ for tests that change
  them (reload, add source); the copy's Panel reuses the session panel's warm embedder.

Never change files under `corpus_settings` dirs: every test shares them.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.chat.message import Inbound, Reply, parse_command
from bot.chat.service import PanelService
from bot.chat.store import Store
from bot.ingest.pipeline import ingest
from bot.panel import Panel
from bot.settings import Settings

ARTICLES = Path(__file__).parent / "articles"
MANIFEST = {
    "qa_interview": {
        "title": "星河智能赵启明：不追参数，只追效果",
        "outlet": "科技日报",
        "date": "2024-08-03",
        "kind": "interview",
    },
    "salon": {
        "title": "AI芯片圆桌：国产芯片能不能追上？",
        "outlet": "芯视界",
        "date": "2024-06",
        "kind": "salon",
    },
    "news": {
        "title": "AI应用迎来爆发期，投资人看好垂直赛道",
        "outlet": "财经快讯",
        "date": "2024-05-10",
        "kind": "news",
    },
    "speech": {
        "title": "周若华：开源是中国AI追赶的最快路径",
        "outlet": "开源技术大会",
        "date": "2024",
        "kind": "speech",
    },
}


def corpus_at(root: Path) -> Settings:
    """Copy the articles into `root/seeds`, describe them, ingest them; return settings pointing there."""
    seeds = root / "seeds"
    seeds.mkdir(parents=True)
    for name in MANIFEST:
        shutil.copy(ARTICLES / f"{name}.txt", seeds / f"{name}.txt")
    (seeds / "sources.yaml").write_text(yaml.safe_dump(MANIFEST, allow_unicode=True), encoding="utf-8")
    settings = settings_at(root)
    ingest(settings.seeds_dir, settings.personas_dir, max_bytes=settings.max_source_bytes)
    return settings


def settings_at(root: Path) -> Settings:
    """Offline settings rooted at `root`, ignoring any .env file."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=root / "data",
        seeds_dir=root / "seeds",
        personas_dir=root / "personas",
        database_url="",
        chroma_host="",
        llm_base_url="",
        llm_model="",
    )


async def chat(service: PanelService, text: str = "", **fields: object) -> list[Reply]:
    """Send one message as the user `test:1` in chat `test:1` and collect every reply."""
    command, args = parse_command(text)
    values: dict[str, object] = {"user_id": "test:1", "chat_id": "test:1", "text": text}
    values |= {"command": command, "args": args}
    values |= fields
    return [reply async for reply in service.handle(Inbound(**values))]  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return corpus_at(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def panel(corpus_settings: Settings) -> Panel:
    return Panel.open(corpus_settings)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "panelbot.sqlite3")
    yield store
    store.close()


@pytest.fixture
def service(panel: Panel, store: Store, corpus_settings: Settings) -> PanelService:
    return PanelService(panel, store, corpus_settings, rng=random.Random(7))


@pytest.fixture
def fresh_settings(tmp_path: Path, corpus_settings: Settings) -> Settings:
    root = tmp_path / "fresh"
    shutil.copytree(corpus_settings.seeds_dir, root / "seeds")
    shutil.copytree(corpus_settings.personas_dir, root / "personas")
    return settings_at(root)


@pytest.fixture
def fresh_service(fresh_settings: Settings, panel: Panel, store: Store) -> PanelService:
    own = Panel.open(fresh_settings, embedder=panel.embedder)
    return PanelService(own, store, fresh_settings, rng=random.Random(7))
