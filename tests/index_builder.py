"""A process that builds one index generation, for tests that race several of them over one Chroma store.

    python -m tests.index_builder STORE BARRIER

STORE is a data directory (embedded Chroma) or `host:port` (a Chroma server). The process opens
the store, writes `BARRIER/ready.<pid>`, waits until `BARRIER/go` exists (so that several processes
build at the same moment), builds,
and prints `{"name", "embedded", "count"}` as JSON. Embedding is slowed down so that the builders'
steps overlap.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from langchain_core.embeddings import DeterministicFakeEmbedding

from bot.retrieval.index import PassageIndex, chroma_client
from bot.retrieval.passage import Passage

EMBED_SECONDS = 0.5


class SlowEmbeddings(DeterministicFakeEmbedding):
    """Deterministic vectors, computed slowly enough that two builders embed at the same time."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        time.sleep(EMBED_SECONDS)
        return super().embed_documents(texts)


def passages(count: int = 50) -> list[Passage]:
    """Passages of one made-up persona."""
    return [
        Passage(
            id=f"p{i}",
            persona_id="li-tao",
            quote_id=f"q{i}",
            source="s1",
            start=i * 10,
            end=i * 10 + 9,
            kind="direct",
            role="view",
            text=f"第{i}句话谈的是开源和算力。",
        )
        for i in range(count)
    ]


def main(store: str, barrier: str) -> int:
    """Build once `BARRIER/go` appears; print what was built."""
    host, _, port = store.partition(":") if not store.startswith("/") else ("", "", "")
    client = chroma_client(data_dir=Path(store), host=host, port=int(port or 8000))
    index = PassageIndex(client, embedder=SlowEmbeddings(size=16), model="slow")
    (Path(barrier) / f"ready.{os.getpid()}").touch()
    deadline = time.monotonic() + 30
    while not (Path(barrier) / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    snapshot = index.build(passages())
    print(json.dumps({"name": snapshot.name, "embedded": snapshot.embedded, "count": len(snapshot.passages)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
