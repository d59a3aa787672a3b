"""The loaded personas, looked up by id, name or alias and spotted by name in free text."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import PersonaError, UnknownPersonaError
from bot.persona.naming import fuzzy_mentions
from bot.persona.profile import Persona, Quote, load_personas

if TYPE_CHECKING:
    from bot.settings import Settings

logger = logging.getLogger(__name__)

MIN_MENTION = 2
"""Names and aliases shorter than this are too ambiguous to spot in free text."""


def normalize_key(key: str) -> str:
    """Return the lookup form of an id, name or alias: no `@`, case-folded, single spaces."""
    key = unicodedata.normalize("NFKC", key).strip().lstrip("@").strip()
    return " ".join(key.casefold().split())


class PersonaRegistry:
    """Resolve personas by id, name or alias; a name or alias two personas share resolves to neither."""

    def __init__(self, personas: Iterable[Persona]) -> None:
        self._personas: dict[str, Persona] = {}
        for persona in personas:
            if persona.id in self._personas:
                raise PersonaError(f"two personas have the id {persona.id!r}")
            self._personas[persona.id] = persona
        self._keys = {normalize_key(persona_id): persona_id for persona_id in self._personas}
        """Lookup key → persona id; an empty id marks a key several personas share."""
        self._terms = {f"@{persona_id}": persona_id for persona_id in self._personas}
        """Names, aliases (as written) and `@id` → persona id, for spotting mentions."""
        self._add_names({p.id: [p.name] for p in self._personas.values()})
        self._add_names({p.id: p.aliases for p in self._personas.values()})
        self._mention = _mention_patterns(self._terms)

    def _add_names(self, names: Mapping[str, list[str]]) -> None:
        """Register one tier of names; earlier tiers win, and a clash within a tier resolves to nobody."""
        tier: dict[str, set[str]] = {}
        for persona_id, persona_names in names.items():
            for name in persona_names:
                if normalize_key(name):
                    tier.setdefault(normalize_key(name), set()).add(persona_id)
        for key, owners in tier.items():
            if key in self._keys:
                continue
            if len(owners) > 1:
                logger.warning("%r names several personas %s; it resolves to none", key, sorted(owners))
                self._keys[key] = ""
                continue
            self._keys[key] = next(iter(owners))
        for persona_id, persona_names in names.items():
            for name in persona_names:
                if self._keys.get(normalize_key(name)) == persona_id and len(name.strip()) >= MIN_MENTION:
                    self._terms.setdefault(name.strip(), persona_id)

    @classmethod
    def from_directory(cls, directory: Path, *, texts: Mapping[str, str]) -> PersonaRegistry:
        """Load and verify every profile of a directory."""
        return cls(load_personas(directory, texts=texts))

    def get(self, key: str) -> Persona:
        """Return the persona with this id, name or alias (`@` prefix and Latin case ignored).

        Raises:
            UnknownPersonaError: nobody, or more than one persona, answers to the key.
        """
        persona_id = self._keys.get(normalize_key(key))
        if not persona_id:
            raise UnknownPersonaError(key)
        return self._personas[persona_id]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._keys.get(normalize_key(key)))

    def quote(self, persona_id: str, quote_id: str) -> Quote:
        """Return one quote of a persona.

        Raises:
            UnknownPersonaError: no such persona.
            PersonaError: the persona has no quote with that id.
        """
        persona = self.get(persona_id)
        for quote in persona.quotes:
            if quote.id == quote_id:
                return quote
        raise PersonaError(f"persona {persona.id} has no quote {quote_id}")

    def find_mentions(self, text: str) -> list[Persona]:
        """Return the personas whose name or alias occurs in text, by first occurrence, each once.

        Overlapping matches go to the longest, so `李开复` is not also read as someone's shorter alias.
        """
        matches: list[tuple[int, int, str]] = []
        folded = text.casefold()
        for term, pattern in self._mention:
            if term.split()[0].casefold() in folded:  # cheap test before the regex
                matches += [(m.start(), m.end(), self._terms[term]) for m in pattern.finditer(text)]
        taken = [False] * len(text)
        chosen: list[tuple[int, str]] = []
        for start, end, persona_id in sorted(matches, key=lambda m: (m[0] - m[1], m[0])):
            if not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                chosen.append((start, persona_id))
        found: dict[str, Persona] = {}
        for _, persona_id in sorted(chosen):
            found.setdefault(persona_id, self._personas[persona_id])
        return list(found.values())

    def find_named(self, text: str) -> list[Persona]:
        """Return the personas the text names: exactly (`find_mentions`), or as users mistype them.

        A homophone or a one-character typo (`方寒`), pinyin (`fang han`) or English order with a usual
        surname spelling (`Kai-Fu Lee`) counts when it fits exactly one persona.
        """
        found = self.find_mentions(text)
        if found:
            return found
        owners: dict[str, list[str]] = {}
        for persona in self:
            owners.setdefault(persona.name, []).append(persona.id)
        names = [name for name, ids in owners.items() if len(ids) == 1]
        return [self._personas[owners[name][0]] for name in fuzzy_mentions(text, names)]

    @functools.cached_property
    def names(self) -> frozenset[str]:
        """Every name, alias and id, case-folded."""
        return frozenset(n.casefold() for p in self for n in (p.name, *p.aliases, p.id))

    @property
    def ids(self) -> list[str]:
        """Return the persona ids in registry order."""
        return list(self._personas)

    def __iter__(self) -> Iterator[Persona]:
        return iter(self._personas.values())

    def __len__(self) -> int:
        return len(self._personas)


def _mention_patterns(terms: Iterable[str]) -> list[tuple[str, re.Pattern[str]]]:
    """Compile one pattern per term; Latin terms must not sit inside a longer Latin word."""
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for term in sorted(terms, key=lambda t: (-len(t), t)):
        body = r"\s+".join(re.escape(word) for word in term.split())
        before = r"(?<![A-Za-z0-9])" if term[0].isascii() and term[0].isalnum() else ""
        after = r"(?![A-Za-z0-9])" if term[-1].isascii() and term[-1].isalnum() else ""
        patterns.append((term, re.compile(before + body + after, re.IGNORECASE)))
    return patterns


def load_registry(settings: Settings) -> PersonaRegistry:
    """Load the sources and the verified persona profiles named by the settings."""
    from bot.ingest.sources import load_sources

    loaded = load_sources(settings.seeds_dir, max_bytes=settings.max_source_bytes)
    return PersonaRegistry.from_directory(settings.personas_dir, texts={s.id: s.text for s in loaded.sources})
