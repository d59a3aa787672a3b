"""The route scorer: how likely a persona is to have addressed a question, from measured features.

A logistic model over a handful of features of one (question, persona) pair. Its weights and
decision floors are data, fitted by `panelbot fit` on a development question set and kept in
`bot/scorer.json` with the split they were fitted on; nothing here is a hand-set floor.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

FEATURES: tuple[str, ...] = (
    "dense",  # best cosine of the persona's passages with the question
    "dense_gap",  # its cosine minus the best other persona's: the lead of a clear answerer
    "sparse",  # best BM25 score of the persona's passages, relative to the best passage overall
    "sparse_gap",  # its BM25 score minus the best other persona's
    "coverage",  # IDF-weighted share of the question's content words in the persona's best passages
    "about",  # share of the question's content words in the persona's name, org and title
    "rank",  # 1 / rank of the persona among the candidates (by fused retrieval score)
    "named",  # the question names the persona
    "terms",  # log(1 + number of content words): greetings and fillers have none
    "who",  # a "who said" question
    "exact",  # the persona's words contain the question's quoted fragment
    "latin",  # share of Latin letters in the question: an English question matches by meaning only
    "unseen",  # IDF-weighted share of the question's content words that no passage holds
    "pairs",  # share of the question's character pairs in the persona's best passages (segmentation-proof)
)
WEIGHTS_FILE = "scorer.json"


@dataclass(frozen=True)
class Weights:
    """A fitted scorer: one coefficient per feature, an intercept, and the floors that decide."""

    coef: dict[str, float]
    intercept: float
    threshold: float
    """A persona answers when its probability reaches this."""
    named_threshold: float
    """The floor for a persona the question names (the name already says whose words are wanted)."""
    share: float
    """Further personas answer when their probability is at least this share of the best one's."""
    fitted_on: str = ""
    questions: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    """What the fit reached on its own split (not evidence: measure on a held-out part)."""

    def probability(self, features: dict[str, float]) -> float:
        """The model's probability that the persona addressed the question."""
        z = self.intercept + sum(self.coef.get(name, 0.0) * features.get(name, 0.0) for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_json(self) -> str:
        """The weights file's text."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


DEFAULT = Weights(
    coef={"dense": 6.0, "dense_gap": 8.0, "coverage": 3.0, "rank": 1.0, "named": 3.0, "exact": 3.0},
    intercept=-7.0,
    threshold=0.5,
    named_threshold=0.3,
    share=0.6,
)
"""Used only when no weights file is installed (a fresh checkout before `panelbot fit`)."""


def load_weights(path: Path | None = None) -> Weights:
    """Read the fitted weights (the packaged file unless `path` is given)."""
    try:
        text = (
            path.read_text(encoding="utf-8")
            if path is not None
            else resources.files("bot").joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
        )
    except FileNotFoundError:
        return DEFAULT
    data = json.loads(text)
    return Weights(**data)
