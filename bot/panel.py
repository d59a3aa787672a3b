"""The panel: personas, their sources and the index, answering questions with proof."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.compose.answer import AskResult, RouteEntry
from bot.compose.extractive import Composer
from bot.compose.llm import build_composer, compose_answers
from bot.ingest.sources import Source, load_sources
from bot.persona.registry import PersonaRegistry
from bot.retrieval.chunk import passages_of
from bot.retrieval.embed import E5Embeddings, UseEmbeddings, build_embedder
from bot.retrieval.index import PassageIndex, chroma_client
from bot.retrieval.search import HybridRetriever
from bot.retrieval.tokenize import add_names, warm_up
from bot.router import Routing, route
from bot.settings import Settings

logger = logging.getLogger(__name__)

NOBODY = "这些资料里没有人谈过这个问题，我不能替他们回答。"
NAMED_SILENT = "{names}在这些资料里没有谈过这个问题。"


@dataclass
class Panel:
    """Everything needed to answer: registry, sources, index, retriever and composer."""

    registry: PersonaRegistry
    sources: dict[str, Source]
    index: PassageIndex
    retriever: HybridRetriever
    composer: Composer
    embedder: UseEmbeddings | E5Embeddings

    @classmethod
    def open(
        cls, settings: Settings, *, embedder: UseEmbeddings | E5Embeddings | None = None, prune: bool = True
    ) -> Panel:
        """Load sources and verified personas, then build (or reuse) the index.

        Args:
            settings: where sources, personas and the index live.
            embedder: a warm embedder to reuse (a reload passes the serving one).
            prune: delete older index generations; a reload passes False and prunes after its swap.
        """
        loaded = load_sources(settings.seeds_dir, max_bytes=settings.max_source_bytes)
        sources = {s.id: s for s in loaded.sources}
        registry = PersonaRegistry.from_directory(
            settings.personas_dir, texts={k: s.text for k, s in sources.items()}
        )
        warm_up()
        add_names(n for p in registry for n in (p.name, *p.aliases))
        embedder = embedder or build_embedder(settings.embedder)
        client = chroma_client(
            data_dir=settings.data_dir, host=settings.chroma_host, port=settings.chroma_port
        )
        index = PassageIndex(client, embedder=embedder, model=embedder.name)
        index.build(list(passages_of(registry)))
        if prune:
            index.prune()
        composer = _composer(settings, sources)
        return cls(registry, sources, index, HybridRetriever(index, embedder), composer, embedder)

    def ask(self, question: str, *, persona_ids: Sequence[str] = ()) -> AskResult:
        """Answer a question: route it, then let each routed persona answer from its own passages."""
        named = [self.registry.get(key) for key in persona_ids]
        routing = route(question, self.registry, self.retriever, named=named)
        return self._answer(question, routing)

    def _answer(self, question: str, routing: Routing) -> AskResult:
        """Compose one answer per routed persona, or the honest refusal."""
        mode = self.composer.mode
        if not routing.chosen:
            names = "、".join(p.name for p in routing.declined)
            message = NAMED_SILENT.format(names=names) if names else NOBODY
            return AskResult(question=question, mode=mode, message=message)
        requests = [(e.persona, e.hits) for e in routing.chosen]
        answers = tuple(compose_answers(self.composer, question, requests))
        entries = tuple(RouteEntry(e.persona.id, e.persona.name, e.score) for e in routing.chosen)
        message = (
            NAMED_SILENT.format(names="、".join(p.name for p in routing.declined)) if routing.declined else ""
        )
        return AskResult(
            question=question,
            mode=answers[0].mode if answers else mode,
            route=entries,
            answers=answers,
            message=message,
            who_said=routing.kind == "who_said",
        )


def _composer(settings: Settings, sources: dict[str, Source]) -> Composer:
    """The composer the settings ask for: extractive offline, LLM when an endpoint is configured."""
    return build_composer(settings, {k: s.meta for k, s in sources.items()})
