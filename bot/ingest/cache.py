"""The ingest cache: attributions of unchanged sources are read back instead of computed again.

Entries are keyed by the source's content hash and by a hash of the ingest code itself, so a changed
rule never serves an old answer. Each entry is one small JSON file written atomically; a missing,
stale or unreadable entry is simply recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.ingest.span import Attribution, Person, Span, Utterance

logger = logging.getLogger(__name__)

_CODE = ("attribution.py", "clean.py", "markup.py", "names.py", "roster.py", "span.py", "text.py")


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the modules whose rules decide an attribution."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _CODE:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


class AttributionCache:
    """Attributions on disk under `directory`, one file per source text."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, text: str) -> Path:
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
        return self.directory / f"{code_version()}-{key}.json"

    def get(self, source_id: str, text: str) -> Attribution | None:
        """Return the stored attribution of this text, or None."""
        path = self._path(text)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return _attribution(source_id, data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("ignoring unreadable cache entry %s: %s", path, error)
            return None

    def put(self, text: str, attribution: Attribution) -> None:
        """Store an attribution; a failure to write only costs the next ingest some time."""
        path = self._path(text)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            payload = json.dumps(asdict(attribution), ensure_ascii=False)
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
            os.replace(temp, path)
        except OSError as error:
            logger.warning("could not cache the attribution of %s: %s", attribution.source, error)

    def prune(self, keep: set[Path]) -> None:
        """Delete entries other than `keep` (old texts, old code versions)."""
        if not self.directory.is_dir():
            return
        for path in self.directory.glob("*.json"):
            if path not in keep:
                path.unlink(missing_ok=True)

    def entry(self, text: str) -> Path:
        """The file that holds (or would hold) the attribution of `text`."""
        return self._path(text)


def _attribution(source_id: str, data: dict[str, Any]) -> Attribution:
    """Rebuild an Attribution from its JSON form, under the source's current id."""
    return Attribution(
        source=source_id,
        utterances=tuple(Utterance(**{**u, "source": source_id}) for u in data["utterances"]),
        people={name: Person(**person) for name, person in data["people"].items()},
        boilerplate=tuple(Span(**span) for span in data["boilerplate"]),
    )
