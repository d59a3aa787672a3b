"""Consistency checks of a gold set laid out as ``../shared/eval`` (and ``tests/corpus/<part>/``).

``python tests/corpus_labels.py GOLD_DIR [SOURCES_DIR]`` prints every problem found, one a line,
and exits 1 if there is any. SOURCES_DIR defaults to ``GOLD_DIR/sources``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROLES = {"blank", "boilerplate", "interviewer", "narrator"}
KINDS = {"single", "multi", "named", "who_said", "out_of_scope"}
SOURCE_KINDS = {"interview", "salon", "speech", "news"}


def read_text(path: Path) -> str:
    """Decode a source as the bot does for UTF-8 files (BOM dropped), else as GB18030."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def lines_of(text: str) -> list[str]:
    """Split as ``cat -n`` numbers lines."""
    lines = text.split("\n")
    if len(lines) > 1 and text.endswith("\n"):
        lines.pop()
    return lines


def _load(path: Path, key: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(data.get(key) or ())


def _names(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or ()]


def check(gold_dir: Path, sources_dir: Path | None = None) -> list[str]:
    """Return the problems of the gold set in ``gold_dir``."""
    sources_dir = sources_dir or gold_dir / "sources"
    problems: list[str] = []
    texts = {
        p.name: lines_of(read_text(p))
        for p in sorted(sources_dir.iterdir())
        if p.suffix in {".txt", ".md"} and p.is_file()
    }
    manifest_path = sources_dir / "sources.yaml"
    if manifest_path.exists():
        manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8")) or {}
        for name in texts:
            entry = manifest.get(Path(name).stem)
            if entry is None:
                problems.append(f"{name}: no entry in sources.yaml")
                continue
            for field in ("title", "outlet", "date", "kind", "url"):
                if not str(entry.get(field) or "").strip():
                    problems.append(f"{name}: sources.yaml has no {field}")
            if entry.get("kind") and entry["kind"] not in SOURCE_KINDS:
                problems.append(f"{name}: unknown kind {entry['kind']!r}")

    people = _load(gold_dir / "people.yaml", "people")
    people_names = {str(p["name"]) for p in people}
    orgs = {
        str(o.get("name") or o.get("source"))
        for o in _load(gold_dir / "people.yaml", "unnamed_or_organisation_sources")
    }
    mentioned = {str(m.get("name")) for m in _load(gold_dir / "people.yaml", "mentioned_only")}
    for name in people_names & mentioned:
        problems.append(f"people.yaml: {name} is both a person with views and mentioned_only")

    labels = _load(gold_dir / "speakers.yaml", "lines")
    seen: Counter[tuple[str, int]] = Counter()
    direct: Counter[str] = Counter()
    files_of: dict[str, set[str]] = {}
    by_ref: dict[tuple[str, int], dict[str, Any]] = {}
    for row in labels:
        file, number, speaker = str(row.get("file")), int(row.get("line", 0)), str(row.get("speaker"))
        where = f"{file}:{number}"
        seen[file, number] += 1
        by_ref[file, number] = row
        if file not in texts:
            problems.append(f"{where}: no such source")
            continue
        if not 0 < number <= len(texts[file]):
            problems.append(f"{where}: past the end ({len(texts[file])} lines)")
            continue
        line = texts[file][number - 1]
        if (speaker == "blank") != (line.strip() == ""):
            problems.append(
                f"{where}: speaker {speaker} but the line is {'blank' if not line.strip() else 'not blank'}"
            )
        head = row.get("head")
        if head is not None and not line.startswith(str(head)):
            problems.append(f"{where}: head {str(head)!r} is not how the line starts: {line[:40]!r}")
        if speaker not in ROLES:
            if speaker not in people_names:
                problems.append(f"{where}: speaker {speaker} is not in people.yaml")
            direct[speaker] += 1
            files_of.setdefault(speaker, set()).add(file)
        for key in ("reported", "quoted", "agrees_with"):  # relays may name someone unnamed
            for name in _names(row.get(key)):
                if name not in people_names | mentioned | orgs:
                    problems.append(f"{where}: {key} {name} is in no list of people.yaml")
        for key in ("reported_org", "quoted_org"):
            for name in _names(row.get(key)):
                if name not in orgs:
                    problems.append(f"{where}: {key} {name} is not in unnamed_or_organisation_sources")
    for file, lines in texts.items():
        for number in range(1, len(lines) + 1):
            if seen[file, number] == 0:
                problems.append(f"{file}:{number}: no label")
            elif seen[file, number] > 1:
                problems.append(f"{file}:{number}: labelled {seen[file, number]} times")

    for person in people:
        name = str(person["name"])
        files = {str(f) for f in person.get("files") or ()}
        if name in direct and files_of.get(name, set()) - files:
            problems.append(f"people.yaml: {name} speaks in {sorted(files_of[name] - files)} not in files")
        count = person.get("direct_lines")
        if count is not None and int(count) != direct[name]:
            problems.append(f"people.yaml: {name} direct_lines {count}, labels give {direct[name]}")
        for file in files:
            if file not in texts:
                problems.append(f"people.yaml: {name} file {file} is not a source")

    def check_ref(ref: str, where: str) -> tuple[str, int] | None:
        file, _, number = str(ref).rpartition(":")
        if file not in texts or not number.isdigit() or not 0 < int(number) <= len(texts[file]):
            problems.append(f"{where}: bad reference {ref}")
            return None
        return file, int(number)

    ids: Counter[str] = Counter()
    for q in _load(gold_dir / "questions.yaml", "questions"):
        qid = str(q.get("id"))
        ids[qid] += 1
        where = f"questions.yaml {qid}"
        kind = q.get("kind")
        if kind not in KINDS:
            problems.append(f"{where}: unknown kind {kind!r}")
        if not str(q.get("question") or "").strip():
            problems.append(f"{where}: no question")
        expected = _names(q.get("expected_personas"))
        if kind == "out_of_scope":
            if expected or q.get("supporting"):
                problems.append(f"{where}: out_of_scope with expected personas or supporting lines")
            continue
        if not expected:
            problems.append(f"{where}: no expected personas")
        for name in expected:
            if name not in people_names:
                problems.append(f"{where}: expected {name} is not in people.yaml")
        best = q.get("best")
        if best is not None and best not in expected:
            problems.append(f"{where}: best {best} is not expected")
        if kind == "multi" and len(expected) < 2:
            problems.append(f"{where}: multi with fewer than two personas")
        for ref in q.get("supporting") or ():
            found = check_ref(ref, where)
            if found is None:
                continue
            row = by_ref.get(found, {})
            voices = (
                {str(row.get("speaker"))} | set(_names(row.get("reported"))) | set(_names(row.get("quoted")))
            )
            if not voices & set(expected):
                problems.append(f"{where}: supporting {ref} is not a line of an expected persona")
    for qid, count in ids.items():
        if count > 1:
            problems.append(f"questions.yaml: id {qid} used {count} times")

    for d in _load(gold_dir / "debates.yaml", "debates"):
        where = f"debates.yaml {d.get('id')}"
        if not str(d.get("proposition") or "").strip():
            problems.append(f"{where}: no proposition")
        for side in ("pro", "con", "neutral"):
            for entry in d.get(side) or ():
                name = str(entry.get("name"))
                if name not in people_names:
                    problems.append(f"{where}: {side} {name} is not in people.yaml")
                refs = entry.get("refs") or ()
                if side != "neutral" and not refs:
                    problems.append(f"{where}: {side} {name} has no refs")
                for ref in refs:
                    found = check_ref(ref, where)
                    if found is None:
                        continue
                    row = by_ref.get(found, {})
                    voices = (
                        {str(row.get("speaker"))}
                        | set(_names(row.get("reported")))
                        | set(_names(row.get("quoted")))
                    )
                    if name not in voices:
                        problems.append(f"{where}: ref {ref} of {name} is not a line of theirs")
    return problems


def main(argv: list[str]) -> int:
    """Print the problems of the gold set named on the command line."""
    if not argv:
        print(__doc__)
        return 2
    gold = Path(argv[0])
    problems = check(gold, Path(argv[1]) if len(argv) > 1 else None)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
