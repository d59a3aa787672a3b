"""The passage index: chunking, incremental builds, atomic generations, hybrid search, server mode."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from bot.persona.profile import Persona, Quote, Style
from bot.retrieval.chunk import passages_of
from bot.retrieval.embed import UseEmbeddings
from bot.retrieval.index import PassageIndex, chroma_client
from bot.retrieval.passage import Passage
from bot.retrieval.search import HybridRetriever

TEXT = (
    "算力是个纸老虎,很快这些问题都会被解决。凡是用算力能解决的都是暴力解决。"
    "开源能够让更多的人参与到大模型的研发。我们坚信开源是生态发展的土壤。"
)


class CountingEmbeddings(DeterministicFakeEmbedding):
    """A deterministic embedder that counts how many texts it embedded."""

    embedded: int = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return super().embed_documents(texts)


def persona(
    pid: str, name: str, spans: list[tuple[int, int]], *, source: str = "s1", text: str = TEXT
) -> Persona:
    quotes = [
        Quote(id=f"q-{pid}-{i}", source=source, start=s, end=e, kind="direct", text=text[s:e])
        for i, (s, e) in enumerate(spans)
    ]
    return Persona(
        id=pid,
        name=name,
        aliases=[],
        title="",
        org="",
        bio="",
        sources=[source],
        topics=[],
        stances=[],
        quotes=quotes,
        style=Style(),
    )


@pytest.fixture
def personas() -> list[Persona]:
    first = TEXT.index("开源")
    return [persona("li-tao", "李涛", [(0, first)]), persona("fang-han", "方汉", [(first, len(TEXT))])]


def test_passages_are_sentence_windows_inside_one_quote(personas: list[Persona]) -> None:
    passages = list(passages_of(personas))
    assert [p.persona_id for p in passages] == ["li-tao", "fang-han"]
    assert all(TEXT[p.start : p.end] == p.text for p in passages)
    assert passages[0].text.endswith("暴力解决。") and passages[1].text.startswith("开源")


def test_rebuild_of_unchanged_passages_embeds_nothing(personas: list[Persona], tmp_path: Path) -> None:
    embedder = CountingEmbeddings(size=16)
    index = PassageIndex(chroma_client(data_dir=tmp_path), embedder=embedder)
    passages = list(passages_of(personas))
    assert index.build(passages).embedded == 2
    assert index.build(passages).embedded == 0
    changed = [*passages[:1], Passage(**{**passages[1].__dict__, "text": "我们坚信开源是生态发展的土壤。"})]
    assert index.build(changed).embedded == 1
    assert embedder.embedded == 3


def test_a_new_generation_leaves_the_old_one_until_pruned(personas: list[Persona], tmp_path: Path) -> None:
    client = chroma_client(data_dir=tmp_path)
    serving = PassageIndex(client, embedder=CountingEmbeddings(size=16))
    old = serving.build(list(passages_of(personas)))
    fresh = PassageIndex(client, embedder=CountingEmbeddings(size=16))
    new = fresh.build(list(passages_of(personas[:1])))
    assert old.name != new.name
    assert serving.dense([0.1] * 16, top_k=5)  # the old generation still answers
    assert fresh.prune() == 1
    assert [c.name for c in client.list_collections()] == [new.name]


@pytest.fixture(scope="module")
def use() -> UseEmbeddings:
    embedder = UseEmbeddings()
    embedder.warm_up()
    return embedder


def test_hybrid_search_finds_exact_terms_and_filters_by_persona(
    personas: list[Persona], use: UseEmbeddings, tmp_path: Path
) -> None:
    embedder = use
    index = PassageIndex(chroma_client(data_dir=tmp_path), embedder=embedder)
    index.build(list(passages_of(personas)))
    retriever = HybridRetriever(index, embedder)
    assert retriever.search("算力不够怎么办")[0].passage.persona_id == "li-tao"
    assert retriever.search("GPU不够用")[0].passage.persona_id == "li-tao"  # synonym: GPU → 算力
    assert {h.passage.persona_id for h in retriever.search("算力", personas=["fang-han"])} == {"fang-han"}
    assert retriever.idf("量子") > retriever.idf("开源")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


ROOT = Path(__file__).parent.parent


def build_at_once(store: str, barrier: Path, *, builders: int = 2) -> list[dict[str, object]]:
    """Start `builders` processes over one store, let them build together, return what each printed."""
    barrier.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.index_builder", store, str(barrier)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(builders)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(list(barrier.glob("ready.*"))) < builders and time.monotonic() < deadline:
            time.sleep(0.02)
        (barrier / "go").touch()
        outcomes = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            process.kill()
    failures = [err for process, (_, err) in zip(processes, outcomes, strict=True) if process.returncode]
    assert failures == []
    return [json.loads(out) for out, _ in outcomes]


def generations(client: chromadb.api.ClientAPI) -> list[tuple[str, int]]:
    return sorted((c.name, c.count()) for c in client.list_collections())


@pytest.mark.integration
def test_two_processes_build_the_same_new_generation_at_once(tmp_path: Path) -> None:
    built = build_at_once(str(tmp_path / "data"), tmp_path / "barrier")

    assert [b["name"] for b in built] == [built[0]["name"]] * 2
    assert [b["count"] for b in built] == [50, 50]
    assert generations(chroma_client(data_dir=tmp_path / "data")) == [(str(built[0]["name"]), 50)]


@pytest.mark.integration
def test_two_processes_build_the_same_new_generation_at_once_on_a_server(
    chroma_server: int, tmp_path: Path
) -> None:
    built = build_at_once(f"127.0.0.1:{chroma_server}", tmp_path / "barrier")

    assert [b["name"] for b in built] == [built[0]["name"]] * 2
    client = chroma_client(data_dir=tmp_path, host="127.0.0.1", port=chroma_server)
    assert generations(client) == [(str(built[0]["name"]), 50)]


def test_a_generation_pruned_by_another_process_still_answers(
    personas: list[Persona], tmp_path: Path
) -> None:
    client = chroma_client(data_dir=tmp_path)
    serving = PassageIndex(client, embedder=CountingEmbeddings(size=16))
    old = serving.build(list(passages_of(personas)))
    fresh = PassageIndex(chroma_client(data_dir=tmp_path), embedder=CountingEmbeddings(size=16))
    fresh.build(list(passages_of(personas[:1])))
    fresh.prune()

    nearest = serving.dense([float(x) for x in old.vectors[1]], top_k=1)

    assert [position for position, _ in nearest] == [1]


@pytest.mark.integration
def test_server_mode_serves_the_same_index(
    personas: list[Persona], chroma_server: int, tmp_path: Path
) -> None:
    client = chroma_client(data_dir=tmp_path, host="127.0.0.1", port=chroma_server)
    embedder = CountingEmbeddings(size=16)
    index = PassageIndex(client, embedder=embedder)
    index.build(list(passages_of(personas)))
    again = PassageIndex(
        chroma_client(data_dir=tmp_path, host="127.0.0.1", port=chroma_server), embedder=embedder
    )
    assert again.build(list(passages_of(personas))).embedded == 0
    assert HybridRetriever(again, embedder).search("开源")[0].passage.persona_id == "fang-han"
