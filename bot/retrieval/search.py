"""Hybrid search: Chroma vectors and jieba BM25 over the same passages, fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.ingest.span import SpeechRole
from bot.retrieval.index import PassageIndex
from bot.retrieval.passage import Hit
from bot.retrieval.tokenize import bigrams, tokenize

VIEWS: tuple[SpeechRole, ...] = ("view",)
"""A persona's own views: the evidence for answers (not a host's questions or relayed words)."""
RRF_K = 60
CANDIDATES = 60
SYNONYMS: dict[str, tuple[str, ...]] = {
    "鹅厂": ("腾讯",),
    "企鹅": ("腾讯",),
    "度娘": ("百度",),
    "阿里巴巴": ("阿里",),
    "bat": ("百度", "阿里", "腾讯"),
    "gpu": ("算力", "显卡", "芯片"),
    "显卡": ("算力", "gpu", "卡"),
    "英伟达": ("算力", "a100", "gpu"),
    "算力": ("gpu", "卡"),
    "ai": ("人工智能",),
    "人工智能": ("ai",),
    "llm": ("大模型", "语言模型"),
    "gpt": ("chatgpt", "openai"),
    "钱": ("资金", "成本", "费用"),
    "烧钱": ("成本", "费用", "资金"),
    "花钱": ("成本", "费用"),
    "工资": ("薪水", "涨薪"),
    "薪水": ("工资", "涨薪"),
    "老外": ("国外", "美国"),
    "国外": ("海外", "美国"),
    "美国": ("海外", "国外"),
    "国产": ("国内", "中国"),
    "追上": ("追赶", "赶上", "差距"),
    "落后": ("差距", "追赶"),
    "差距": ("落后", "追赶"),
    "创业公司": ("初创", "创业者", "小公司"),
    "初创": ("创业公司", "创业"),
    "大厂": ("巨头", "大公司"),
    "巨头": ("大厂", "大公司"),
    "语料": ("数据",),
    "数据": ("语料",),
    "代码": ("开源", "编程"),
    "闭源": ("开源",),
    "公开代码": ("开源",),
    "应用商店": ("app store", "appstore"),
    "手机操作系统": ("ios", "操作系统", "安卓", "android"),
    "操作系统": ("ios", "windows", "安卓", "android"),
    "苹果": ("iphone", "ios"),
}
"""Common paraphrases and slang mapped to the words articles use."""


class Retriever(Protocol):
    """Finds passages relevant to a query."""

    def search(
        self,
        query: str,
        *,
        top_k: int = 20,
        personas: Sequence[str] = (),
        roles: Collection[SpeechRole] = VIEWS,
    ) -> list[Hit]:
        """Return the best hits, fused score first."""
        ...

    def idf(self, term: str) -> float:
        """How rare a term is among the passages (unseen terms weigh the most)."""
        ...

    def seen(self, term: str) -> bool:
        """Whether any passage holds the term."""
        ...


def expand(tokens: Sequence[str]) -> list[str]:
    """Add the usual synonyms of the query's tokens."""
    extra = [s for t in tokens for s in SYNONYMS.get(t, ()) if s not in tokens]
    return [*tokens, *dict.fromkeys(extra)]


def query_terms(query: str) -> list[str]:
    """BM25 terms of a query: its words, their usual synonyms, and bigrams of its longer words."""
    words = tokenize(query)
    return [*expand(words), *("#" + b for w in words if len(w) >= 3 for b in bigrams(w))]


class HybridRetriever:
    """Dense (embeddings in Chroma) plus sparse (BM25 over jieba tokens), fused by reciprocal rank."""

    def __init__(self, index: PassageIndex, embedder: Embeddings) -> None:
        self._index, self._embedder = index, embedder

    def idf(self, term: str) -> float:
        """How rare a term is among the passages (unseen terms weigh the most)."""
        return self._index.snapshot.idf(term)

    def seen(self, term: str) -> bool:
        """Whether any passage holds the term."""
        return term in self._index.snapshot.frequency

    def search(
        self,
        query: str,
        *,
        top_k: int = 20,
        personas: Sequence[str] = (),
        roles: Collection[SpeechRole] = VIEWS,
    ) -> list[Hit]:
        """Return the best passages for `query` among `personas` (all when empty) with one of `roles`."""
        snapshot = self._index.snapshot
        passages = snapshot.passages
        if not passages:
            return []
        allowed = np.isin(snapshot.roles, list(roles))
        if personas:
            codes = [i for i, pid in enumerate(snapshot.persona_ids) if pid in personas]
            allowed &= np.isin(snapshot.persona_codes, codes)
        dense = [
            (i, s)
            for i, s in self._index.dense(
                self._embedder.embed_query(query), top_k=CANDIDATES * 2, personas=personas
            )
            if allowed[i]
        ][:CANDIDATES]
        terms = query_terms(query)
        sparse_scores = np.zeros(len(passages))
        if snapshot.bm25 is not None and terms:
            sparse_scores = np.asarray(snapshot.bm25.get_scores(terms), dtype=float)
        sparse_scores[~allowed] = 0.0
        top = min(CANDIDATES, len(passages) - 1)
        order = np.argpartition(-sparse_scores, top)[: top + 1]
        order = order[np.argsort(-sparse_scores[order])][:CANDIDATES]
        sparse = [(int(i), float(sparse_scores[i])) for i in order if sparse_scores[i] > 0]
        fused: dict[int, float] = {}
        for ranking in (dense, sparse):
            for rank, (i, _) in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        cosine = dict(dense)
        best = max(sparse_scores.max(), 1e-9)
        hits = [
            Hit(passages[i], score, dense=cosine.get(i, 0.0), sparse=float(sparse_scores[i] / best))
            for i, score in fused.items()
        ]
        hits.sort(key=lambda h: (-h.score, h.passage.id))
        return hits[:top_k]
