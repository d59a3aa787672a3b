"""Source documents: read, decode and describe the articles in `seeds/`.

Offsets used downstream are `str` indices into `Source.text`: the stored file's
decoded text without a leading UTF-8 BOM and with no other normalisation
(CRLF line ends stay as they are).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import lxml.html
import trafilatura
import yaml
from charset_normalizer import from_bytes
from lxml.etree import ParserError
from lxml_html_clean import Cleaner
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import SourceError
from bot.ingest.clean import detected_title

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
MANIFEST_NAME = "sources.yaml"
# gb18030 is a superset of gb2312 and gbk, so it decodes everything they do.
CHINESE_ENCODINGS = ("gb18030", "big5")
_CONTROL_BYTES = bytes(sorted(set(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D} | {0x7F}))
_MAX_CONTROL_SHARE = 0.05
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre")


KIND_LABELS = {"interview": "采访", "salon": "沙龙", "speech": "演讲", "news": "报道"}
"""How each document kind is named to users."""


class SourceMeta(BaseModel):
    """What `seeds/sources.yaml` says about one document; "" means unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    title: str = ""
    outlet: str = ""
    """Publication or site, e.g. `第一财经`."""
    author: str = ""
    date: str = Field(default="", pattern=r"^(\d{4}(-\d{2}(-\d{2})?)?)?$")
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD`."""
    kind: Literal["", "interview", "salon", "speech", "news"] = ""
    url: str = ""
    repo: str = ""
    """Where a copy of the text was taken from, when it came from an archive: `owner/name`."""
    path: str = ""
    """The file within `repo`."""
    commit: str = ""
    """The commit of `repo` the file was taken at."""

    @field_validator("date", mode="before")
    @classmethod
    def _date_to_str(cls, value: object) -> object:
        """Accept an unquoted YAML date such as `2023-04-06`."""
        return value.isoformat() if isinstance(value, dt.date) else value


@dataclass(frozen=True)
class Source:
    """One decoded document; its id is the file stem."""

    id: str
    path: Path
    text: str
    meta: SourceMeta

    @property
    def content_hash(self) -> str:
        """Return the SHA-256 hex digest of the text, so a reload can skip unchanged sources."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoadResult:
    """The sources that loaded and the errors of those that did not."""

    sources: tuple[Source, ...]
    errors: tuple[SourceError, ...]


def _decode(data: bytes, *, path: str) -> tuple[str, str]:
    """Decode `data` and return the text with the name of the encoding used."""
    if not data:
        raise SourceError("file is empty", path=path)
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if b"\x00" in data or controls > _MAX_CONTROL_SHARE * len(data):
        raise SourceError("looks like a binary file, not text", path=path)
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        matches = from_bytes(data, cp_isolation=list(CHINESE_ENCODINGS))
        best = matches.best()
        if best is None:
            raise SourceError("is neither UTF-8 nor a Chinese encoding (GB18030, Big5)", path=path) from None
        # Short GBK text often decodes as Big5 just as cleanly; on a tie, mainland text is likelier.
        tied = {match.encoding for match in matches if match.chaos <= best.chaos}
        encoding = "gb18030" if "gb18030" in tied else best.encoding
        text = data.decode(encoding)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise SourceError("contains only whitespace", path=path)
    return text, encoding


def decode_bytes(data: bytes, *, path: str) -> str:
    """Decode a document's bytes: UTF-8 (BOM stripped) or a detected Chinese encoding."""
    return _decode(data, path=path)[0]


def read_source(path: Path, *, meta: SourceMeta | None = None, max_bytes: int) -> Source:
    """Read and decode one `.txt`/`.md` document."""
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise SourceError(f"unsupported file type {path.suffix!r} (use .txt or .md)", path=str(path))
    data = _read_bytes(path, max_bytes=max_bytes)
    text = decode_bytes(data, path=str(path))
    meta = meta or SourceMeta()
    if not meta.title:  # a document without a manifest entry is named by its own title line
        meta = meta.model_copy(update={"title": detected_title(text)})
    return Source(id=path.stem, path=path, text=text, meta=meta)


_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:;|$|!)|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$|!)",
    re.IGNORECASE,
)


def strip_hidden(html: str) -> str:
    """Remove what a reader never sees: `hidden` elements, `<template>`, and invisible inline styles.

    Hidden text is nobody's words (and a place to smuggle instructions into a page).
    """
    try:
        doc = lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return html
    doomed = [
        element
        for element in doc.iter()
        if isinstance(element.tag, str)
        and (
            element.tag == "template"
            or element.get("hidden") is not None
            or element.get("aria-hidden") == "true"
            or _HIDDEN_STYLE.search(element.get("style") or "")
        )
    ]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps the visible text after it (its tail)
    return str(lxml.html.tostring(doc, encoding="unicode"))


def html_to_text(html: str, *, path: str = "<html>") -> str:
    """Reduce an HTML page to its visible main text, one paragraph per line."""
    html = strip_hidden(html)
    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)
    lines = [line.strip() for line in (text or _all_text(html)).splitlines()]
    result = "\n".join(line for line in lines if line)
    if not result:
        raise SourceError("the page has no readable text", path=path)
    return result


def _all_text(html: str) -> str:
    """Return a page's text without scripts, styles and navigation, for pages trafilatura finds nothing in."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return ""
    doc = Cleaner(style=True, kill_tags=["nav", "header", "footer", "aside", "form"]).clean_html(doc)
    for element in doc.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return str(doc.text_content())


def load_manifest(seeds_dir: Path) -> dict[str, SourceMeta]:
    """Read `sources.yaml`, a mapping of source id to metadata; a missing file means no metadata."""
    path = seeds_dir / MANIFEST_NAME
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise SourceError(f"cannot read the manifest: {err}", path=str(path)) from err
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SourceError("the manifest must map source ids to metadata", path=str(path))
    manifest: dict[str, SourceMeta] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise SourceError(f"source id {key!r} must be a string (quote it)", path=str(path))
        try:
            manifest[key] = SourceMeta.model_validate(value or {})
        except ValidationError as err:
            raise SourceError(f"bad entry {key!r}: {err}", path=str(path)) from err
    return manifest


def load_sources(seeds_dir: Path, *, max_bytes: int) -> LoadResult:
    """Load every text document in `seeds_dir`, converting new HTML pages to text first."""
    if not seeds_dir.is_dir():
        missing = SourceError("the seeds directory does not exist", path=str(seeds_dir))
        logger.warning("Cannot load sources: %s", missing)
        return LoadResult(sources=(), errors=(missing,))
    errors: list[SourceError] = []
    try:
        manifest = load_manifest(seeds_dir)
    except SourceError as err:
        errors.append(err)
        manifest = {}
    for page in _files(seeds_dir, HTML_SUFFIXES):
        if not any(page.with_suffix(suffix).exists() for suffix in TEXT_SUFFIXES):
            try:
                html = decode_bytes(_read_bytes(page, max_bytes=max_bytes), path=str(page))
                text = html_to_text(html, path=str(page))
                _write_atomic(page.with_suffix(".txt"), text.encode("utf-8"))
                logger.info("Converted %s to text", page)
            except SourceError as err:
                errors.append(err)
    sources: dict[str, Source] = {}
    paths = _files(seeds_dir, TEXT_SUFFIXES)
    for path in paths:
        try:
            if path.stem in sources:
                raise SourceError(f"another file already has the source id {path.stem!r}", path=str(path))
            sources[path.stem] = read_source(path, meta=manifest.get(path.stem), max_bytes=max_bytes)
        except SourceError as err:
            errors.append(err)
    for error in errors:
        logger.warning("Source problem: %s", error)
    for orphan in sorted(manifest.keys() - {path.stem for path in paths}):
        logger.warning("Manifest entry %s has no source file", orphan)
    return LoadResult(sources=tuple(sources.values()), errors=tuple(errors))


def save_source(seeds_dir: Path, filename: str, data: bytes, *, max_bytes: int) -> Path:
    """Validate an uploaded document and store it as UTF-8 text; return the text file's path.

    UTF-8 uploads are stored byte for byte, others re-encoded to UTF-8; either way
    offsets index the decoded text. An HTML page is stored beside its main text.
    Nothing is written unless the upload is valid; an existing file is replaced.
    """
    basename = PurePosixPath(filename.replace("\\", "/")).name
    safe = PurePosixPath(_UNSAFE_NAME_CHARS.sub("_", basename).lstrip("."))
    stem, suffix = safe.stem, safe.suffix.lower()
    name = stem + suffix
    if not stem or suffix not in TEXT_SUFFIXES | HTML_SUFFIXES:
        raise SourceError("unsupported file (use .txt, .md, .html or .htm)", path=filename)
    if len(data) > max_bytes:
        raise SourceError(f"too large ({len(data)} bytes, limit {max_bytes})", path=name)
    text, encoding = _decode(data, path=name)
    target = seeds_dir / name
    if suffix in HTML_SUFFIXES:
        text_path, payload = target.with_suffix(".txt"), html_to_text(text, path=name).encode("utf-8")
    else:
        text_path, payload = target, data if encoding == "utf-8" else text.encode("utf-8")
    for other in (text_path.with_suffix(s) for s in TEXT_SUFFIXES):
        if other != text_path and other.exists():
            raise SourceError(f"source {text_path.stem!r} already exists as {other.name}", path=name)
    seeds_dir.mkdir(parents=True, exist_ok=True)
    if suffix in HTML_SUFFIXES:
        _write_atomic(target, data)
    _write_atomic(text_path, payload)
    logger.info("Saved source %s (%s)", text_path, encoding)
    return text_path


def _files(directory: Path, suffixes: frozenset[str]) -> list[Path]:
    """List the visible files in `directory` (not recursive) with one of `suffixes`, by name."""
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in suffixes
    )


def _read_bytes(path: Path, *, max_bytes: int) -> bytes:
    """Read a file, refusing one larger than `max_bytes`."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"too large ({size} bytes, limit {max_bytes})", path=str(path))
        return path.read_bytes()
    except OSError as err:
        raise SourceError(f"cannot read the file: {err.strerror}", path=str(path)) from err


def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a hidden temporary file, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; seeds must stay readable like any other file
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise SourceError(f"cannot write the file: {err.strerror}", path=str(path)) from err
