"""Admin work: re-ingest the sources into a new Panel, add an uploaded source, and report the diff.

Both operations are blocking (ingest, embedding) and all-or-nothing: on any failure the files they
may have changed (persona profiles, and for an upload the seeds) are restored byte for byte, and
the caller keeps serving its old Panel. Swapping the new Panel in is the caller's job
(`PanelService.reload`), so that it happens once, under one lock.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.chat.message import Document
from bot.errors import BotError, ReloadError
from bot.ingest.pipeline import ingest
from bot.ingest.sources import save_source
from bot.panel import Panel
from bot.settings import Settings

logger = logging.getLogger(__name__)

FAILED = "重新加载失败，仍在使用原来的资料。"


@dataclass(frozen=True)
class Diff:
    """What changed in one kind of thing between two Panels."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    total: int = 0
    """How many there are now."""

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def to_text(self, noun: str, unit: str, *, names: bool = True) -> str:
        """Return `嘉宾 7 位：新增 1（钱文静）· 修改 0 · 删除 0`."""

        def part(label: str, items: tuple[str, ...]) -> str:
            shown = f"（{'、'.join(items[:10])}{'等' if len(items) > 10 else ''}）" if names and items else ""
            return f"{label} {len(items)}{shown}"

        parts = (part("新增", self.added), part("修改", self.changed), part("删除", self.removed))
        return f"{noun} {self.total} {unit}：" + " · ".join(parts)


@dataclass(frozen=True)
class ReloadReport:
    """The difference between the serving Panel and the new one, and how long building it took."""

    sources: Diff
    personas: Diff
    quotes: Diff
    seconds: float
    added_source: str = ""
    """The id of the uploaded source (`/addsource`), else empty."""

    @property
    def changed(self) -> bool:
        """Whether anything differs from the Panel that was serving."""
        return bool(self.sources or self.personas or self.quotes)

    def to_text(self) -> str:
        """Return the admin's report in Chinese."""
        head = f"已添加来源 {self.added_source}，" if self.added_source else ""
        lines = [
            f"{head}重新加载完成，用时 {self.seconds:.1f} 秒。",
            self.sources.to_text("来源", "篇"),
            self.personas.to_text("嘉宾", "位"),
            self.quotes.to_text("引文", "条", names=False),
        ]
        if not self.changed:
            lines.append("资料没有变化。")
        return "\n".join(lines)


@dataclass(frozen=True)
class FileSnapshot:
    """The visible files at the top of a directory, byte for byte, to put back after a failure.

    Held in memory: seeds and profiles are text of at most a few megabytes each.
    """

    directory: Path
    files: dict[str, bytes]

    @classmethod
    def take(cls, directory: Path) -> FileSnapshot:
        """Record the directory's files now."""
        return cls(directory, {path.name: path.read_bytes() for path in _visible(directory)})

    def restore(self) -> None:
        """Delete files added since the snapshot and rewrite those that changed or went missing."""
        for path in _visible(self.directory):
            if path.name not in self.files:
                path.unlink()
                logger.info("restore: removed %s", path)
        for name, data in self.files.items():
            path = self.directory / name
            if not path.is_file() or path.read_bytes() != data:
                _write_back(path, data)
                logger.info("restore: rewrote %s", path)


def _write_back(path: Path, data: bytes) -> None:
    """Write a file through a hidden temporary file, so a crash never leaves half of it."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _visible(directory: Path) -> list[Path]:
    """List a directory's regular files that are not hidden (temporary files are hidden)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def reload(settings: Settings, serving: Panel) -> tuple[Panel, ReloadReport]:
    """Re-ingest `seeds/` into `personas/` and open a new Panel; restore `personas/` on any failure.

    The new Panel reuses the serving Panel's embedder and does not prune old index generations
    (the serving Panel still reads its own); prune once the new one is swapped in.

    Raises:
        ReloadError: a source could not be read or attributed, no source is left, or the new Panel
            could not be opened; `user_message` says why.
    """
    return _rebuild(settings, serving, added_source="")


def add_source(settings: Settings, serving: Panel, document: Document) -> tuple[Panel, ReloadReport]:
    """Store an uploaded document in `seeds/`, then reload; on any failure put `seeds/` back as it was.

    Raises:
        SourceError: the upload is not a readable text or HTML document.
        ReloadError: nobody could be attributed in it, or the reload failed.
    """
    seeds = FileSnapshot.take(settings.seeds_dir)
    try:
        path = save_source(
            settings.seeds_dir, document.filename, document.data, max_bytes=settings.max_source_bytes
        )
        return _rebuild(settings, serving, added_source=path.stem)
    except BaseException:
        seeds.restore()
        raise


def _rebuild(settings: Settings, serving: Panel, *, added_source: str) -> tuple[Panel, ReloadReport]:
    """Ingest and open a new Panel, checking the result; restore `personas/` on any failure."""
    started = time.perf_counter()
    personas = FileSnapshot.take(settings.personas_dir)
    try:
        report = ingest(
            settings.seeds_dir,
            settings.personas_dir,
            max_bytes=settings.max_source_bytes,
            cache_dir=settings.ingest_cache_dir,
        )
        if report.errors:
            raise ReloadError(
                f"reload failed: {'; '.join(report.errors)}",
                user_message=FAILED + "\n" + "\n".join(report.errors),
            )
        if not report.sources or not report.personas:
            raise ReloadError(
                "reload failed: no source with an attributed speaker",
                user_message=FAILED + f"\n{settings.seeds_dir} 里没有任何能识别出发言人的来源。",
            )
        panel = _open(settings, serving)
        if added_source and not any(added_source in p.sources for p in panel.registry):
            raise ReloadError(
                f"reload failed: nobody speaks in {added_source}",
                user_message=FAILED + f"\n{added_source}：没有识别出任何发言人，未收录。",
            )
    except BaseException as error:
        personas.restore()
        if isinstance(error, Exception) and not isinstance(error, BotError):
            logger.exception("reload failed")
            raise ReloadError(
                f"reload failed: {error}", user_message=f"{FAILED}（内部错误，详见日志）"
            ) from error
        raise
    seconds = time.perf_counter() - started
    return panel, diff(serving, panel, seconds=seconds, added_source=added_source)


def _open(settings: Settings, serving: Panel) -> Panel:
    """Open the new Panel, saying in the error that the old one keeps serving."""
    try:
        return Panel.open(settings, embedder=serving.embedder, prune=False)
    except BotError as error:
        raise ReloadError(
            f"reload failed: {error}", user_message=f"{FAILED}\n{error.user_message}"
        ) from error


def diff(old: Panel, new: Panel, *, seconds: float, added_source: str = "") -> ReloadReport:
    """Compare two Panels: sources by content and metadata, personas by profile, quotes by span."""
    sources = _diff(
        {k: (s.content_hash, s.meta) for k, s in old.sources.items()},
        {k: (s.content_hash, s.meta) for k, s in new.sources.items()},
    )
    names = {p.id: p.name for p in (*old.registry, *new.registry)}
    personas = _diff({p.id: p for p in old.registry}, {p.id: p for p in new.registry}, labels=names)
    quotes = _diff(
        {f"{p.id}:{q.id}": q for p in old.registry for q in p.quotes},
        {f"{p.id}:{q.id}": q for p in new.registry for q in p.quotes},
    )
    return ReloadReport(sources, personas, quotes, seconds, added_source)


def _diff(
    old: Mapping[str, object], new: Mapping[str, object], *, labels: Mapping[str, str] | None = None
) -> Diff:
    """Compare two keyed collections; `labels` names keys for the report."""
    names = labels or {}

    def ordered(keys: set[str]) -> tuple[str, ...]:
        return tuple(sorted(names.get(key, key) for key in keys))

    return Diff(
        added=ordered(set(new) - set(old)),
        changed=ordered({key for key in set(new) & set(old) if new[key] != old[key]}),
        removed=ordered(set(old) - set(new)),
        total=len(new),
    )
