"""Passages: the retrievable units, sentence windows inside one person's quote."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.ingest.span import SpeechKind, SpeechRole


@dataclass(frozen=True)
class Passage:
    """A sentence-aligned span inside one quote of one persona; never crosses speakers."""

    id: str
    persona_id: str
    quote_id: str
    source: str
    start: int
    end: int
    kind: SpeechKind
    role: SpeechRole
    text: str
    relayed_from: str | None = None
    asked: str = ""
    """The question the words answer (an interviewer's or host's): searched with them, never shown as theirs."""

    @property
    def search_text(self) -> str:
        """What retrieval matches: the question asked, then the words (`一定能。` is found by its question)."""
        return f"{self.asked}\n{self.text}" if self.asked else self.text

    @property
    def content_hash(self) -> str:
        """Hash of everything that changes the passage's vector or meaning."""
        key = (
            f"{self.persona_id}\x1f{self.source}\x1f{self.start}\x1f{self.kind}\x1f{self.role}\x1f{self.text}"
            f"\x1f{self.asked}"
        )
        return hashlib.sha1(key.encode()).hexdigest()


@dataclass(frozen=True)
class Hit:
    """A passage found for a query, with its fused and per-retriever scores."""

    passage: Passage
    score: float
    dense: float = 0.0
    """Cosine similarity of the query and passage embeddings."""
    sparse: float = 0.0
    """Share of the query's terms the passage contains (BM25-weighted)."""
