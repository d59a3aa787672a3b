"""The passage index: Chroma vectors plus a jieba BM25, built incrementally and swapped atomically."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from langchain_core.embeddings import Embeddings

from bot.errors import RetrievalError
from bot.retrieval.passage import Passage
from bot.retrieval.tokenize import search_terms

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
PREFIX = "passages-"


def chroma_client(*, data_dir: Path, host: str = "", port: int = 8000) -> ClientAPI:
    """Open Chroma: a server when `host` is set, else the embedded store under `data_dir`."""
    settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, settings=settings)
        data_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=settings)
    except Exception as exc:  # chroma raises many kinds; one clear error for the caller
        raise RetrievalError(
            f"cannot open Chroma: {exc}", user_message="检索库无法打开，请联系管理员。"
        ) from exc


@dataclass(frozen=True)
class Snapshot:
    """One built generation of the index: its passages, their Chroma collection and BM25."""

    name: str
    passages: tuple[Passage, ...]
    bm25: bm25s.BM25 | None
    embedded: int
    """How many passages had to be embedded to build it (0 when nothing changed)."""
    positions: dict[str, int]
    """Passage id → position in `passages`."""
    frequency: dict[str, int]
    """Term → how many passages hold it."""
    persona_codes: np.ndarray
    """Per passage, the position of its persona in `persona_ids` (for fast filtering)."""
    persona_ids: tuple[str, ...]
    roles: np.ndarray
    """Per passage, its role (`view`, `question`, `relayed`)."""
    collection: Collection
    vectors: np.ndarray
    """Per passage, its unit embedding (searched directly when the search is limited to a few personas)."""

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term (unseen terms weigh the most)."""
        return math.log((len(self.passages) + 1) / (self.frequency.get(term, 0) + 0.5))


class PassageIndex:
    """Hybrid index over all passages; `build` makes a new generation and swaps it in when complete.

    The previous generation stays in the store (and can keep serving another `PassageIndex`) until
    `prune` is called.
    """

    def __init__(self, client: ClientAPI, *, embedder: Embeddings, model: str = "") -> None:
        self._client, self._embedder = client, embedder
        self._model = model or type(embedder).__name__
        """Names the vector space: generations of another model are never reused."""
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        """The generation currently serving."""
        if self._snapshot is None:
            raise RetrievalError(
                "the index has not been built", user_message="索引尚未建立，请先运行 ingest。"
            )
        return self._snapshot

    def build(self, passages: Sequence[Passage]) -> Snapshot:
        """Build (or reuse) the generation for these passages and swap it in; returns it.

        Vectors of passages whose content hash is already stored in any generation are copied,
        not recomputed, so re-indexing unchanged sources embeds nothing.
        """
        with self._lock:
            name = PREFIX + _fingerprint(passages, self._model)
            existing = {c.name for c in self._client.list_collections()}
            if name in existing and self._client.get_collection(name).count() != len(passages):
                self._client.delete_collection(name)  # left half-built by an interrupted build
                existing.discard(name)
            embedded = 0 if name in existing else self._create(name, passages, existing)
            collection = self._client.get_collection(name)
            tokens = [search_terms(p.text) for p in passages]
            bm25 = _bm25(tokens) if passages else None
            positions = {p.id: i for i, p in enumerate(passages)}
            frequency = Counter(t for terms in tokens for t in set(terms))
            persona_ids = tuple(dict.fromkeys(p.persona_id for p in passages))
            code = {pid: i for i, pid in enumerate(persona_ids)}
            self._snapshot = Snapshot(
                name,
                tuple(passages),
                bm25,
                embedded,
                positions,
                dict(frequency),
                np.array([code[p.persona_id] for p in passages], dtype=np.int32),
                persona_ids,
                np.array([p.role for p in passages]),
                collection,
                _vectors(collection, positions),
            )
            return self._snapshot

    def prune(self) -> int:
        """Delete every stored generation except the one serving; returns how many were deleted.

        Called once a new generation has been swapped in everywhere, never before.
        """
        keep = self.snapshot.name
        old = [
            c.name for c in self._client.list_collections() if c.name.startswith(PREFIX) and c.name != keep
        ]
        for name in old:
            self._client.delete_collection(name)
        return len(old)

    def _create(self, name: str, passages: Sequence[Passage], existing: set[str]) -> int:
        """Create a generation, reusing stored vectors by content hash; return how many were embedded."""
        known: dict[str, list[float]] = {}
        for old in existing:
            collection = self._client.get_collection(old) if old.startswith(PREFIX) else None
            if collection is not None and (collection.metadata or {}).get("model") == self._model:
                got = collection.get(include=["metadatas", "embeddings"])
                vectors = got["embeddings"] if got["embeddings"] is not None else []
                for meta, vector in zip(got["metadatas"] or [], vectors, strict=True):
                    known[str(meta["hash"])] = [float(x) for x in vector]
        fresh = [p for p in passages if p.content_hash not in known]
        for passage, vector in zip(
            fresh, self._embedder.embed_documents([p.text for p in fresh]), strict=True
        ):
            known[passage.content_hash] = vector
        collection = self._client.create_collection(
            name, embedding_function=None, metadata={"hnsw:space": "cosine", "model": self._model}
        )
        for start in range(0, len(passages), 1000):
            batch = passages[start : start + 1000]
            collection.add(
                ids=[p.id for p in batch],
                embeddings=[known[p.content_hash] for p in batch],  # type: ignore[arg-type]
                metadatas=[{"persona": p.persona_id, "hash": p.content_hash} for p in batch],
            )
        logger.info("built %s: %d passages, %d embedded", name, len(passages), len(fresh))
        return len(fresh)

    def dense(
        self, vector: list[float], *, top_k: int, personas: Sequence[str] = ()
    ) -> list[tuple[int, float]]:
        """Return (passage position, cosine similarity) of the nearest passages."""
        snapshot = self.snapshot
        if not snapshot.passages:
            return []
        if personas:
            # A few personas' passages: exact cosine in memory beats a filtered ANN query.
            codes = [i for i, pid in enumerate(snapshot.persona_ids) if pid in personas]
            rows = np.flatnonzero(np.isin(snapshot.persona_codes, codes))
            scores = snapshot.vectors[rows] @ np.asarray(vector, dtype=np.float32)
            best = np.argsort(-scores)[:top_k]
            return [(int(rows[i]), float(scores[i])) for i in best]
        result = snapshot.collection.query(
            query_embeddings=[vector],  # type: ignore[arg-type]
            n_results=min(top_k, len(snapshot.passages)),
            include=["distances"],
        )
        ids, distances = result["ids"][0], (result["distances"] or [[]])[0]
        return [(snapshot.positions[i], 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]


def _vectors(collection: Collection, positions: dict[str, int]) -> np.ndarray:
    """Load a generation's vectors in passage order, normalised to unit length."""
    got = collection.get(include=["embeddings"])
    vectors = np.zeros((len(positions), 0), dtype=np.float32)
    if got["embeddings"] is not None and len(got["ids"]):
        matrix = np.asarray(got["embeddings"], dtype=np.float32)
        vectors = np.zeros((len(positions), matrix.shape[1]), dtype=np.float32)
        vectors[[positions[i] for i in got["ids"]]] = matrix
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _bm25(tokens: list[list[str]]) -> bm25s.BM25:
    """Index pre-tokenized passages for BM25 (sparse matrices: sub-millisecond queries)."""
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    return bm25


def _fingerprint(passages: Sequence[Passage], model: str) -> str:
    """A short hash of the passage set and the model: equal sets share one generation."""
    digest = hashlib.sha1(model.encode())
    for passage in passages:
        digest.update(passage.id.encode())
        digest.update(passage.content_hash.encode())
    return digest.hexdigest()[:16]
