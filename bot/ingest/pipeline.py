"""The ingest pipeline: sources → cleaning → attribution → persona profiles on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.errors import AttributionError, BotError
from bot.ingest.attribution import attribute_speakers
from bot.ingest.cache import AttributionCache, code_version
from bot.ingest.clean import find_boilerplate
from bot.ingest.sources import Source, load_sources
from bot.ingest.span import Attribution
from bot.persona.distill import build_profiles
from bot.persona.profile import Persona, dump_persona, write_persona

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Corpus:
    """The sources that loaded and what attribution found in each."""

    sources: tuple[Source, ...]
    attributions: tuple[Attribution, ...]
    errors: tuple[BotError, ...] = ()

    @property
    def texts(self) -> dict[str, str]:
        """Source id → text."""
        return {source.id: source.text for source in self.sources}


@dataclass
class IngestReport:
    """What an ingest changed, for the command line and the admin's reply."""

    sources: int = 0
    personas: int = 0
    quotes: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Return the report as JSON-ready data."""
        return {
            "sources": self.sources,
            "personas": self.personas,
            "quotes": self.quotes,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


def read_corpus(seeds_dir: Path, *, max_bytes: int, cache: AttributionCache | None = None) -> Corpus:
    """Load every source and attribute its speakers; a bad source is reported, never fatal.

    With a cache, a source whose text is unchanged is not attributed again.
    """
    loaded = load_sources(seeds_dir, max_bytes=max_bytes)
    errors: list[BotError] = list(loaded.errors)
    sources: list[Source] = []
    attributions: list[Attribution] = []
    for source in loaded.sources:
        attribution = cache.get(source.id, source.text) if cache is not None else None
        if attribution is None:
            attribution = attribute_speakers(source.id, source.text, find_boilerplate(source.text))
            if cache is not None:
                cache.put(source.text, attribution)
        if not attribution.utterances:
            error = AttributionError(
                f"{source.path.name}: nobody could be attributed",
                user_message=f"{source.path.name}：没有识别出任何发言人，未收录。",
            )
            logger.warning("%s", error)
            errors.append(error)
            continue
        sources.append(source)
        attributions.append(attribution)
    return Corpus(tuple(sources), tuple(attributions), tuple(errors))


def read_existing(personas_dir: Path) -> dict[str, Persona]:
    """Read the profiles on disk by name, without verifying quotes (their sources may have changed)."""
    existing: dict[str, Persona] = {}
    for path in sorted(personas_dir.glob("*.yaml")):
        try:
            persona = Persona.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (ValidationError, yaml.YAMLError) as exc:
            logger.warning("ignoring unreadable profile %s: %s", path, exc)
            continue
        existing[persona.name] = persona
    return existing


def ingest(
    seeds_dir: Path, personas_dir: Path, *, max_bytes: int, cache_dir: Path | None = None
) -> IngestReport:
    """Rebuild persona profiles from the sources; unchanged sources leave the files byte-identical.

    With `cache_dir`, unchanged sources are not attributed again, and when neither the sources nor
    the profiles changed since the last ingest through the same cache, nothing is rebuilt at all.
    """
    started = time.perf_counter()
    cache = AttributionCache(cache_dir / "attributions") if cache_dir is not None else None
    state = _state(seeds_dir, personas_dir)
    if cache_dir is not None and _read_state(cache_dir) == state:
        counts = json.loads((cache_dir / STATE_FILE).read_text(encoding="utf-8"))["counts"]
        return IngestReport(**counts, seconds=time.perf_counter() - started)
    corpus = read_corpus(seeds_dir, max_bytes=max_bytes, cache=cache)
    existing = read_existing(personas_dir)
    profiles = build_profiles(corpus.attributions, corpus.texts, existing=existing)
    report = IngestReport(sources=len(corpus.sources), errors=[e.user_message for e in corpus.errors])
    personas_dir.mkdir(parents=True, exist_ok=True)
    before = {p.id: dump_persona(p) for p in existing.values()}
    for profile in profiles:
        write_persona(profile, personas_dir)
        if profile.id not in before:
            report.added.append(profile.id)
        elif before[profile.id] != dump_persona(profile):
            report.changed.append(profile.id)
    kept = {p.id for p in profiles}
    for persona_id in sorted(set(before) - kept):
        (personas_dir / f"{persona_id}.yaml").unlink(missing_ok=True)
        report.removed.append(persona_id)
    report.personas = len(profiles)
    report.quotes = sum(len(p.quotes) for p in profiles)
    if cache is not None and cache_dir is not None:
        cache.prune({cache.entry(source.text) for source in corpus.sources})
        if not report.errors:
            _write_state(cache_dir, _state(seeds_dir, personas_dir), report)
    report.seconds = time.perf_counter() - started
    return report


STATE_FILE = "ingest.json"


def _state(seeds_dir: Path, personas_dir: Path) -> dict[str, dict[str, str]]:
    """Content hashes of every visible file of `seeds/` and `personas/`, and of the ingest code."""

    def digests(directory: Path) -> dict[str, str]:
        if not directory.is_dir():
            return {}
        return {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.iterdir())
            if path.is_file() and not path.name.startswith(".")
        }

    return {
        "seeds": digests(seeds_dir),
        "personas": digests(personas_dir),
        "code": {"version": code_version()},
    }


def _read_state(cache_dir: Path) -> dict[str, dict[str, str]] | None:
    try:
        data = json.loads((cache_dir / STATE_FILE).read_text(encoding="utf-8"))
        return {key: data[key] for key in ("seeds", "personas", "code")}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(cache_dir: Path, state: dict[str, dict[str, str]], report: IngestReport) -> None:
    counts = {"sources": report.sources, "personas": report.personas, "quotes": report.quotes}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        (cache_dir / STATE_FILE).write_text(json.dumps({**state, "counts": counts}), encoding="utf-8")
    except OSError as error:
        logger.warning("could not record the ingest state: %s", error)
