"""The passage index: Chroma vectors plus a jieba BM25, built incrementally and swapped atomically.

Generations are safe to build from several processes at once (two commands, the bot and a command,
replicas sharing a Chroma server): each builder fills a collection of its own under a unique staging
name and renames it to the generation's name only when complete. The rename is atomic in Chroma (the
name is unique), so a generation's name always holds a complete collection, and a builder that loses
the race uses the winner's. A generation another process prunes while this one still serves it is
searched from the vectors held in memory instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import threading
import time
import uuid
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
from chromadb.errors import ChromaError
from langchain_core.embeddings import Embeddings

from bot.errors import RetrievalError
from bot.retrieval.passage import Passage
from bot.retrieval.tokenize import search_terms

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
PREFIX = "passages-"
STAGING = "staging-"
"""Prefix of a collection still being filled; renamed to `PREFIX + fingerprint` when complete."""
STALE_STAGING_SECONDS = 3600.0
"""A staging collection this old was left by a builder that died; `prune` deletes it."""
BUILD_ATTEMPTS = 3
"""Builds retried when another process deletes a generation while this one reads it."""


def chroma_client(*, data_dir: Path, host: str = "", port: int = 8000) -> ClientAPI:
    """Open Chroma: a server when `host` is set, else the embedded store under `data_dir`."""
    settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, settings=settings)
        data_dir.mkdir(parents=True, exist_ok=True)
        # Two processes opening a new store at once both create its tables, and one fails.
        with open(data_dir / ".chroma.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
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
        not recomputed, so re-indexing unchanged sources embeds nothing. Safe to run in several
        processes at once over one store.

        Raises:
            RetrievalError: the store failed, or kept losing the generation to other processes.
        """
        with self._lock:
            name = PREFIX + _fingerprint(passages, self._model)
            for attempt in range(1, BUILD_ATTEMPTS + 1):
                try:
                    built = self._generation(name, passages)
                    if built is not None:
                        collection, embedded, known = built
                        positions = {p.id: i for i, p in enumerate(passages)}
                        vectors = _vectors(collection, positions, known=known)
                        break
                    problem = "it was deleted as it was published"
                except ChromaError as error:  # typically: another process pruned it between our steps
                    problem = str(error)
                logger.warning("building %s (attempt %d): %s", name, attempt, problem)
            else:
                raise RetrievalError(
                    f"cannot build index generation {name}: {problem}",
                    user_message="检索库无法建立索引，请联系管理员。",
                )
            self._snapshot = _snapshot(name, passages, embedded, collection, vectors)
            return self._snapshot

    def _generation(
        self, name: str, passages: Sequence[Passage]
    ) -> tuple[Collection, int, dict[str, list[float]] | None] | None:
        """Return the complete collection `name`, creating it if needed, and how many were embedded.

        The third item holds the vectors by content hash when this call computed them. None when
        another process deleted the generation before it could be read back (the caller retries).
        """
        found = self._complete(name, len(passages))
        if found is not None:
            return found, 0, None
        known = self._known_vectors()
        fresh = [p for p in passages if p.content_hash not in known]
        for passage, vector in zip(
            fresh, self._embedder.embed_documents([p.search_text for p in fresh]), strict=True
        ):
            known[passage.content_hash] = vector
        staging_name = f"{STAGING}{name.removeprefix(PREFIX)}-{uuid.uuid4().hex[:12]}"
        staging = self._client.create_collection(
            staging_name,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "model": self._model, "created": time.time()},
        )
        try:
            for start in range(0, len(passages), 1000):
                batch = passages[start : start + 1000]
                staging.add(
                    ids=[p.id for p in batch],
                    embeddings=[known[p.content_hash] for p in batch],  # type: ignore[arg-type]
                    metadatas=[{"persona": p.persona_id, "hash": p.content_hash} for p in batch],
                )
            self._publish(staging, name, len(passages))
        except BaseException:
            _delete(self._client, staging_name)
            raise
        winner = self._complete(name, len(passages))
        if winner is None:
            return None
        if winner.id != staging.id:  # another process published the same generation first
            _delete(self._client, staging_name)
            logger.info("%s was built by another process meanwhile; using it", name)
            return winner, 0, known
        logger.info("built %s: %d passages, %d embedded", name, len(passages), len(fresh))
        return winner, len(fresh), known

    def _publish(self, staging: Collection, name: str, size: int) -> None:
        """Rename a filled staging collection to the generation's name, unless a complete one is there."""
        try:
            staging.modify(name=name)
            return
        except ChromaError as error:
            clash = error
        try:
            there = self._client.get_collection(name).count()
        except ChromaError:
            raise clash from None  # no name clash after all: the store itself failed
        if there == size:
            return  # another process published the same generation first; the caller uses it
        # Older versions filled a generation in place, so an interrupted build left it short.
        logger.warning("replacing the incomplete collection %s (%d of %d passages)", name, there, size)
        _delete(self._client, name)
        try:
            staging.modify(name=name)
        except ChromaError:
            if self._complete(name, size) is None:
                raise

    def _complete(self, name: str, size: int) -> Collection | None:
        """Return the collection `name` if it exists and holds `size` passages."""
        try:
            collection = self._client.get_collection(name)
            return collection if collection.count() == size else None
        except ChromaError:  # not found, or deleted as we looked
            return None

    def _known_vectors(self) -> dict[str, list[float]]:
        """Vectors of every stored generation of this model, by passage content hash."""
        known: dict[str, list[float]] = {}
        for collection in self._client.list_collections():
            if not collection.name.startswith(PREFIX):
                continue
            try:
                if (collection.metadata or {}).get("model") != self._model:
                    continue
                got = collection.get(include=["metadatas", "embeddings"])
            except ChromaError:  # pruned by another process meanwhile: its vectors are elsewhere too
                continue
            vectors = got["embeddings"] if got["embeddings"] is not None else []
            for meta, vector in zip(got["metadatas"] or [], vectors, strict=True):
                known[str(meta["hash"])] = [float(x) for x in vector]
        return known

    def prune(self) -> int:
        """Delete every stored generation except the one serving; returns how many were deleted.

        Called once a new generation has been swapped in everywhere, never before. Staging
        collections are deleted only once they are old enough to have been abandoned.
        """
        keep = self.snapshot.name
        now = time.time()
        old: list[str] = []
        for collection in self._client.list_collections():
            name = collection.name
            if name.startswith(PREFIX) and name != keep:
                old.append(name)
            elif name.startswith(STAGING):
                created = (collection.metadata or {}).get("created")
                if isinstance(created, int | float) and now - created > STALE_STAGING_SECONDS:
                    old.append(name)
        for name in old:
            _delete(self._client, name)
        return len(old)

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
        try:
            result = snapshot.collection.query(
                query_embeddings=[vector],  # type: ignore[arg-type]
                n_results=min(top_k, len(snapshot.passages)),
                include=["distances"],
            )
        except ChromaError as error:  # pruned by another process, or the server is gone
            logger.warning("searching %s in memory: %s", snapshot.name, error)
            scores = snapshot.vectors @ np.asarray(vector, dtype=np.float32)
            return [(int(i), float(scores[i])) for i in np.argsort(-scores)[:top_k]]
        ids, distances = result["ids"][0], (result["distances"] or [[]])[0]
        return [(snapshot.positions[i], 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]


def _snapshot(
    name: str, passages: Sequence[Passage], embedded: int, collection: Collection, vectors: np.ndarray
) -> Snapshot:
    """Assemble a generation's in-memory parts: BM25, term frequencies, persona codes."""
    tokens = [search_terms(p.search_text) for p in passages]
    positions = {p.id: i for i, p in enumerate(passages)}
    frequency = Counter(t for terms in tokens for t in set(terms))
    persona_ids = tuple(dict.fromkeys(p.persona_id for p in passages))
    code = {pid: i for i, pid in enumerate(persona_ids)}
    return Snapshot(
        name,
        tuple(passages),
        _bm25(tokens) if passages else None,
        embedded,
        positions,
        dict(frequency),
        np.array([code[p.persona_id] for p in passages], dtype=np.int32),
        persona_ids,
        np.array([p.role for p in passages]),
        collection,
        vectors,
    )


def _vectors(
    collection: Collection, positions: dict[str, int], *, known: dict[str, list[float]] | None = None
) -> np.ndarray:
    """Load a generation's vectors in passage order, normalised to unit length.

    With `known` (vectors by content hash, from the build that just stored them) the store is not read.
    """
    got = collection.get(include=["embeddings"] if known is None else ["metadatas"])
    rows = [positions[i] for i in got["ids"]]
    if known is not None:
        embeddings: object = [known[str(m["hash"])] for m in got["metadatas"] or []]
    else:
        embeddings = got["embeddings"]
    vectors = np.zeros((len(positions), 0), dtype=np.float32)
    if embeddings is not None and len(rows):
        matrix = np.asarray(embeddings, dtype=np.float32)
        vectors = np.zeros((len(positions), matrix.shape[1]), dtype=np.float32)
        vectors[rows] = matrix
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _delete(client: ClientAPI, name: str) -> None:
    """Delete a collection; one another process deleted first is no error."""
    try:
        client.delete_collection(name)
    except ChromaError as error:
        logger.debug("delete %s: %s", name, error)


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
