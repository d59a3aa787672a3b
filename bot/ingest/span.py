"""Value types shared by the ingest stages: spans of a source text and who said them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SpanKind = Literal[
    "ad",
    "disclaimer",
    "copyright",
    "link",
    "engagement",
    "byline",
    "title",
    "heading",
    "metadata",
    "summary",
    "editor_note",
    "bio",
    "image",
    "caption",
    "markup",
    "label",
]
"""What a non-view span is: boilerplate of one kind, a guest bio (which feeds a profile, not quotes),
page furniture of a clipped post (an image line, its caption, bare markup), or a line that only
names the next speaker (`label`)."""

SpeechKind = Literal["direct", "reported"]
"""`direct`: the person's own words; `reported`: a narrator's paraphrase of them."""

SpeechRole = Literal["view", "question", "relayed"]
"""`view`: the speaker's own view; `question`: a host asking; `relayed`: words the speaker relays from others."""


@dataclass(frozen=True)
class Span:
    """A marked, never rewritten, stretch of a source: `text[start:end]`."""

    start: int
    end: int
    kind: SpanKind


@dataclass(frozen=True)
class Utterance:
    """A span of one source that one person said (directly) or was reported to say."""

    speaker: str
    """The person's name as the text writes it."""
    source: str
    start: int
    end: int
    kind: SpeechKind
    role: SpeechRole = "view"
    relayed_from: str | None = None
    """For `relayed` words: who they are from, when the text names them."""
    question_start: int | None = None
    question_end: int | None = None
    """The interviewer's or host's question this answers, as a span of the same source (never their words)."""


@dataclass
class Person:
    """What a source tells about one person who speaks in it."""

    name: str
    title: str = ""
    """The role exactly as the text gives it, e.g. `APUS创始人兼CEO`."""
    org: str = ""
    aliases: list[str] = field(default_factory=list)
    bio: str = ""
    """Bio text from a guest-bio block or an introduction; never quoted as a view."""


@dataclass(frozen=True)
class Attribution:
    """Everything attribution found in one source."""

    source: str
    utterances: tuple[Utterance, ...]
    people: dict[str, Person]
    boilerplate: tuple[Span, ...] = ()
