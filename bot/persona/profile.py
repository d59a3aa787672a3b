"""Persona profiles: strict models, pinyin slugs, curated-field merging and verified YAML i/o."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pypinyin import Style as PinyinStyle
from pypinyin import lazy_pinyin

from bot.errors import PersonaError, QuoteNotVerbatimError

logger = logging.getLogger(__name__)

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
CuratedField = Literal["bio", "aliases", "stances", "style", "title", "org"]
"""A field a person may edit by hand; `panelbot ingest` keeps its value."""

COMPOUND_SURNAMES = {
    "万俟": ["mo", "qi"],
    "尉迟": ["yu", "chi"],
    "单于": ["chan", "yu"],
    "长孙": ["zhang", "sun"],
}
"""Two-character surnames whose first character would otherwise be read by `SURNAMES`."""
SURNAMES = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "区": "ou",
    "查": "zha",
    "覃": "qin",
    "翟": "zhai",
    "缪": "miao",
    "秘": "bi",
    "繁": "po",
    "种": "chong",
    "重": "chong",
    "折": "she",
    "粘": "nian",
    "藏": "zang",
    "员": "yun",
    "召": "shao",
    "隗": "wei",
    "句": "gou",
    "薄": "bo",
    "乜": "nie",
    "阚": "kan",
    "卜": "bu",
    "佴": "nai",
    "祭": "zhai",
}
"""Surnames read differently from pypinyin's default reading of the character (which has no surname mode)."""

YAML_WIDTH = 1 << 30
"""Wide enough that the emitter never folds a line."""


class Asked(BaseModel):
    """The interviewer's or host's question an answer replies to: context, never the persona's words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int
    end: int
    text: str
    """Verbatim: `source_text[start:end]` of the quote's source."""


class Quote(BaseModel):
    """A verbatim span of one source that a persona said or was reported to say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    """Stable within the persona, e.g. `q001`."""
    source: str = Field(min_length=1)
    """Source id: the stem of the file in `seeds/`."""
    start: int
    end: int
    """Python `str` indices into the decoded source text: `text == source_text[start:end]`."""
    kind: Literal["direct", "reported"]
    """`direct`: the person's own words; `reported`: a narrator's paraphrase, never shown as own words."""
    text: str
    role: Literal["view", "question", "relayed"] = "view"
    """`view`: the person's own view; `question`: a host asking; `relayed`: words relayed from others."""
    relayed_from: str | None = None
    """For `relayed` words: who they are from, when the text names them."""
    asked: Asked | None = None
    """The question this answers, when the source is an interview or a panel."""

    @model_validator(mode="after")
    def _check_offsets(self) -> Quote:
        """Reject an empty or negative span."""
        if self.start < 0:
            raise ValueError(f"quote {self.id}: start {self.start} is negative")
        if self.start >= self.end:
            raise ValueError(f"quote {self.id}: start {self.start} is not before end {self.end}")
        return self


class Stance(BaseModel):
    """A position on one topic: a one-line claim backed by quotes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    claim: str
    """One line; hand-editable."""
    quotes: list[str]
    """Ids of the persona's quotes that support the claim."""


with warnings.catch_warnings():
    # `register` is the profile's key; it only shadows `ABCMeta.register` on the class, not on instances.
    warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)

    class Style(BaseModel):
        """Free hints on how a persona speaks; hand-editable."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        register: str = ""
        """E.g. `short sentences`, `reported`."""
        phrases: list[str] = []
        """Habitual phrases."""
        notes: str = ""


class Persona(BaseModel):
    """One person of the sources as the bot speaks for them (`personas/<id>.yaml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG_PATTERN)
    """ASCII slug, e.g. pinyin `li-tao`; the file name without `.yaml`."""
    name: str = Field(min_length=1)
    aliases: list[str]
    title: str
    org: str
    bio: str
    sources: list[str]
    """Ids of the sources the persona speaks in."""
    topics: list[str]
    stances: list[Stance]
    quotes: list[Quote]
    style: Style
    curated: list[CuratedField] = []
    """Fields edited by hand, which `panelbot ingest` must not overwrite."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        """Reject a blank name."""
        if not value.strip():
            raise ValueError("name is blank")
        return value

    @model_validator(mode="after")
    def _check_quote_ids(self) -> Persona:
        """Require unique quote ids and stances that cite existing quotes."""
        seen: set[str] = set()
        for quote in self.quotes:
            if quote.id in seen:
                raise ValueError(f"duplicate quote id {quote.id!r}")
            seen.add(quote.id)
        for stance in self.stances:
            missing = [quote_id for quote_id in stance.quotes if quote_id not in seen]
            if missing:
                raise ValueError(f"stance {stance.topic!r} cites unknown quote ids {missing}")
        return self


def slugify(name: str, *, taken: set[str]) -> str:
    """Return an ASCII slug for a name (pinyin for Chinese), suffixed `-2`, `-3`… if already taken.

    `taken` is not changed; the caller records the slug it keeps.
    """
    base = "-".join(_slug_words(name)) or "persona"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _slug_words(name: str) -> list[str]:
    """Split a name into lowercase ASCII words, Chinese characters as pinyin syllables."""
    name = unicodedata.normalize("NFKC", name).strip()
    syllables: list[str] = []
    if "·" not in name:  # a transliterated foreign name has no Chinese surname
        compound = next((s for s in COMPOUND_SURNAMES if name.startswith(s)), None)
        if compound:
            syllables, name = list(COMPOUND_SURNAMES[compound]), name[len(compound) :]
        elif name[:1] in SURNAMES:
            syllables, name = [SURNAMES[name[0]]], name[1:]
    syllables += lazy_pinyin(name, style=PinyinStyle.NORMAL) if name else []
    words: list[str] = []
    for piece in syllables:
        ascii_piece = unicodedata.normalize("NFKD", piece).encode("ascii", "ignore").decode().lower()
        words += re.findall(r"[a-z0-9]+", ascii_piece)
    return words


def merge_curated(fresh: Persona, existing: Persona | None) -> Persona:
    """Combine a freshly derived profile with the hand-curated fields of the profile on disk."""
    if existing is None:
        return fresh
    data: dict[str, Any] = {name: getattr(fresh, name) for name in Persona.model_fields}
    data["id"], data["curated"] = existing.id, list(existing.curated)
    for field in existing.curated:
        if field == "aliases":
            data["aliases"] = existing.aliases + [a for a in fresh.aliases if a not in existing.aliases]
        elif field == "stances":
            data["stances"] = _keep_stances(existing, {quote.id for quote in fresh.quotes})
        else:
            data[field] = getattr(existing, field)
    return Persona.model_validate(data)


def _keep_stances(existing: Persona, quote_ids: set[str]) -> list[Stance]:
    """Return the curated stances, citing only quotes that still exist."""
    stances: list[Stance] = []
    for stance in existing.stances:
        kept = [quote_id for quote_id in stance.quotes if quote_id in quote_ids]
        if len(kept) < len(stance.quotes):
            lost = sorted(set(stance.quotes) - set(kept))
            logger.warning("persona %s: stance %r lost quotes %s", existing.id, stance.topic, lost)
        stances.append(stance.model_copy(update={"quotes": kept}))
    return stances


class _Dumper(yaml.SafeDumper):
    """Emit plain data without anchors; multi-line text as literal blocks where YAML allows."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never write anchors: equal values are spelled out."""
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """Prefer a literal block for multi-line text; the emitter falls back to quotes when needed."""
    if any(char in data for char in _ESCAPED):
        style: str | None = '"'
    else:
        style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_ESCAPED = "\x85\u2028\u2029\ufeff"
"""Characters a YAML reader takes for line breaks or a BOM; written raw they would not round-trip."""


_Dumper.add_representer(str, _represent_str)


class _Loader(yaml.SafeLoader):
    """Safe loader that rejects duplicate keys, a typical slip when editing by hand."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Build a mapping, failing on a repeated key."""
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool) and key in seen:
            problem = f"found duplicate key {key!r}"
            raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def dump_persona(persona: Persona) -> str:
    """Return the profile as deterministic YAML: same persona, byte-identical text."""
    data = persona.model_dump(mode="json")
    data["quotes"] = [quote.model_dump(mode="json", exclude_defaults=True) for quote in persona.quotes]
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=YAML_WIDTH, indent=2)


def write_persona(persona: Persona, directory: Path) -> Path:
    """Write `<id>.yaml` into `directory` atomically, leaving the file untouched if nothing changed."""
    path = directory / f"{persona.id}.yaml"
    content = dump_persona(persona).encode("utf-8")
    try:
        if path.read_bytes() == content:
            return path
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{persona.id}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def verify_quotes(persona: Persona, texts: Mapping[str, str]) -> None:
    """Check that every quote is exactly its source span.

    Raises:
        QuoteNotVerbatimError: a quote's source is unknown, its span lies outside the text, or its text
            differs from the span.
    """
    for quote in persona.quotes:
        source = texts.get(quote.source)
        if source is None:
            detail = "the source is not loaded"
        elif quote.end > len(source):
            detail = f"span {quote.start}:{quote.end} is past the end of the text ({len(source)} characters)"
        elif source[quote.start : quote.end] != quote.text:
            span = source[quote.start : quote.end]
            detail = f"the span reads {_excerpt(span)} but the quote reads {_excerpt(quote.text)}"
        elif quote.asked is not None and source[quote.asked.start : quote.asked.end] != quote.asked.text:
            span = source[quote.asked.start : quote.asked.end]
            detail = f"its question's span reads {_excerpt(span)} but it reads {_excerpt(quote.asked.text)}"
        else:
            continue
        raise QuoteNotVerbatimError(persona=persona.id, quote=quote.id, source=quote.source, detail=detail)


def _excerpt(text: str, limit: int = 24) -> str:
    """Shorten text for an error message."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def load_persona(path: Path, *, texts: Mapping[str, str]) -> Persona:
    """Read, validate and verify one profile.

    Raises:
        PersonaError: the file cannot be read or is not a valid profile.
        QuoteNotVerbatimError: a quote is not exactly its source span.
    """
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise _invalid(path, f"cannot read: {error}") from error
    if not isinstance(data, dict):
        raise _invalid(path, "expected a mapping of profile fields")
    try:
        persona = Persona.model_validate(data)
    except ValidationError as error:
        raise _invalid(path, str(error)) from error
    verify_quotes(persona, texts)
    return persona


def _invalid(path: Path, detail: str) -> PersonaError:
    """Build the error for a profile file that cannot be used."""
    return PersonaError(
        f"{path}: invalid persona profile: {detail}", user_message=f"人物资料 {path.name} 无效，已拒绝加载。"
    )


def load_personas(directory: Path, *, texts: Mapping[str, str]) -> list[Persona]:
    """Load every `<id>.yaml` profile of a directory, sorted by id; the first invalid file raises.

    A missing directory holds no personas.
    """
    if not directory.is_dir():
        logger.warning("persona directory %s does not exist", directory)
        return []
    personas: list[Persona] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name.startswith("."):
            continue
        persona = load_persona(path, texts=texts)
        if persona.id != path.stem:
            raise _invalid(path, f"the file of persona {persona.id!r} must be named {persona.id}.yaml")
        personas.append(persona)
    return sorted(personas, key=lambda persona: persona.id)


def quote_rows(personas: Iterable[Persona]) -> list[dict[str, object]]:
    """Every attributed span in the `panelbot quotes --json` shape."""
    return [
        {
            "persona": p.id,
            "name": p.name,
            "source": q.source,
            "start": q.start,
            "end": q.end,
            "kind": q.kind,
            "text": q.text,
        }
        for p in personas
        for q in p.quotes
    ]
