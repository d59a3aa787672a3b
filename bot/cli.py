"""Command line: `panelbot <command>` (also `python -m bot`); machine-readable with `--json`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.errors import BotError, ConfigError
from bot.logs import configure_logging
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)
DEFAULT_EVAL_DIR = Path("../shared/eval")

Command = Callable[[argparse.Namespace, Settings], int]


def print_json(data: object) -> None:
    """Print data as UTF-8 JSON (Chinese kept readable)."""
    print(json.dumps(data, ensure_ascii=False, indent=2))


def ingest_command(args: argparse.Namespace, settings: Settings) -> int:
    """Build or refresh persona profiles from the sources, then the index they are searched by."""
    from bot.ingest.pipeline import ingest
    from bot.panel import Panel

    report = ingest(
        settings.seeds_dir,
        settings.personas_dir,
        max_bytes=settings.max_source_bytes,
        cache_dir=settings.ingest_cache_dir,
    )
    snapshot = Panel.open(settings).index.snapshot  # built now, so the first question need not wait
    index = {"passages": len(snapshot.passages), "embedded": snapshot.embedded}
    if args.json:
        print_json({**report.to_dict(), "index": index})
    else:
        print(
            f"{report.sources} sources, {report.personas} personas, {report.quotes} quotes "
            f"(+{len(report.added)} ~{len(report.changed)} -{len(report.removed)}) in {report.seconds:.1f}s; "
            f"index of {index['passages']} passages ({index['embedded']} embedded)"
        )
        for error in report.errors:
            print(f"  ! {error}")
    return 0


def personas_command(args: argparse.Namespace, settings: Settings) -> int:
    """List the personas."""
    from bot.persona.registry import load_registry

    registry = load_registry(settings)
    rows = [
        {
            "id": p.id,
            "name": p.name,
            "title": p.title,
            "org": p.org,
            "sources": p.sources,
            "quotes": len(p.quotes),
        }
        for p in registry
    ]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(f"{row['id']:<16} {row['name']:<6} {row['title']}  ({row['quotes']} quotes)")
    return 0


def quotes_command(args: argparse.Namespace, settings: Settings) -> int:
    """List every attributed span, optionally of one persona."""
    from bot.persona.profile import quote_rows
    from bot.persona.registry import load_registry

    registry = load_registry(settings)
    personas = [registry.get(args.persona)] if args.persona else list(registry)
    rows = quote_rows(personas)
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(f"[{row['name']} {row['kind']} {row['source']}:{row['start']}-{row['end']}] {row['text']}")
    return 0


def ask_command(args: argparse.Namespace, settings: Settings) -> int:
    """Ask a question; the right personas answer with citations."""
    from bot.panel import Panel

    result = Panel.open(settings).ask(args.question, persona_ids=args.persona or ())
    if args.json:
        print_json(result.to_dict())
        return 0
    if result.message:
        print(result.message)
    for answer in result.answers:
        print(f"\n【{answer.name}】")
        if answer.note:
            print(answer.note)
        print(answer.text)
        for c in answer.citations:
            print(f"  [{c.n}] {c.source}:{c.start}-{c.end} ({c.kind})")
    return 0


def debate_command(args: argparse.Namespace, settings: Settings) -> int:
    """Stage a debate on a proposition between personas who addressed it, every line cited."""
    from bot.debate import iter_debate, stage_debate
    from bot.panel import Panel

    panel = Panel.open(settings)
    if args.json:
        print_json(
            stage_debate(
                panel, args.proposition, persona_ids=args.persona or (), rounds=args.rounds
            ).to_dict()
        )
        return 0
    for turn in iter_debate(panel, args.proposition, persona_ids=args.persona or (), rounds=args.rounds):
        side = {"pro": "正方", "con": "反方"}.get(turn.stance, "")
        print(f"\n【{turn.name}{'·' + side if side else ''}】\n{turn.text}")
        for c in turn.citations:
            print(f"  [{c.n}] {c.source}:{c.start}-{c.end} ({c.kind})")
    return 0


def map_command(args: argparse.Namespace, settings: Settings) -> int:
    """Show who stands where on a proposition, each with one verbatim, cited claim."""
    from bot.chat.render import map_reply
    from bot.debate.stance_map import stance_map
    from bot.panel import Panel

    panel = Panel.open(settings)
    found = stance_map(panel, args.proposition, persona_ids=args.persona or ())
    if args.json:
        print_json(found.to_dict())
        return 0
    reply = map_reply(found, sources=panel.sources)
    print(reply.text)
    for line in reply.sources:
        print(f"  {line}")
    return 0


def chat_command(args: argparse.Namespace, settings: Settings) -> int:
    """Chat with the personas in the terminal, with the same commands as Telegram."""
    from bot.channels.terminal import run_terminal

    return run_terminal(settings)


def eval_command(args: argparse.Namespace, settings: Settings) -> int:
    """Score the bot against gold labels."""
    from bot.evaluation import run_eval

    result = run_eval(settings, Path(args.file) if args.file else DEFAULT_EVAL_DIR)
    print_json(result) if args.json else print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


def fit_command(args: argparse.Namespace, settings: Settings) -> int:
    """Fit the route scorer on a development question set and write its weights file."""
    from bot.evaluation.fit import collect, fit
    from bot.scorer import WEIGHTS_FILE

    part = Path(args.dir)
    if not (part / "questions.yaml").exists():
        raise ConfigError(f"no questions.yaml in {part}", user_message=f"找不到问题集：{part}")
    weights = fit(collect(part, settings), fitted_on=str(part))
    target = Path(args.out) if args.out else Path(__file__).parent / WEIGHTS_FILE
    target.write_text(weights.to_json(), encoding="utf-8")
    print_json({"written": str(target), **weights.scores, "questions": weights.questions})
    return 0


def bench_command(args: argparse.Namespace, settings: Settings) -> int:
    """Measure cold start and answer latency (1× and scaled corpus)."""
    import yaml

    from bot.bench import SAMPLE_QUESTIONS, run_bench

    path = Path(args.questions) if args.questions else DEFAULT_EVAL_DIR / "questions.yaml"
    questions = (
        [row["question"] for row in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]]
        if path.exists()
        else list(SAMPLE_QUESTIONS)
    )
    result = run_bench(settings, questions=questions, scale=args.scale)
    print_json(result) if args.json else print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Serve messengers until interrupted: `--channel telegram` (default), `wechat` or `all`."""
    from bot.channels.runner import CHANNELS, serve

    logging.getLogger("bot").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    serve(settings, CHANNELS if args.channel == "all" else (args.channel,))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="panelbot", description="Personas that speak only with words they can prove."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--json", action="store_true", help="machine-readable output")
        command.set_defaults(handler=handler)
        return command

    add("ingest", ingest_command, "build/refresh personas from seeds/")
    fitting = add("fit", fit_command, "fit the route scorer on a development question set")
    fitting.add_argument(
        "dir", nargs="?", default="tests/corpus/dev", help="a corpus part (default tests/corpus/dev)"
    )
    fitting.add_argument("--out", help="where to write the weights (default bot/scorer.json)")
    add("personas", personas_command, "list personas")
    add("quotes", quotes_command, "list attributed spans").add_argument(
        "--persona", help="persona id, name or alias"
    )
    ask = add("ask", ask_command, "ask a question")
    ask.add_argument("question")
    ask.add_argument("--persona", action="append", help="persona id, name or alias (repeatable)")
    debate = add("debate", debate_command, "stage a debate on a proposition")
    debate.add_argument("proposition")
    debate.add_argument("--persona", action="append", help="persona id, name or alias (repeatable)")
    debate.add_argument("--rounds", type=int, default=2, help="most rebuttal rounds (default 2)")
    mapping = add("map", map_command, "who stands where on a proposition, each with a cited claim")
    mapping.add_argument("proposition")
    mapping.add_argument("--persona", action="append", help="persona id, name or alias (repeatable)")
    bench = add("bench", bench_command, "latency figures")
    bench.add_argument("--questions", help="a questions.yaml to time (default: the eval set, else built-in)")
    bench.add_argument("--scale", type=int, default=100, help="corpus multiple for the scaled run")
    add("chat", chat_command, "terminal chat, same commands as Telegram")
    add("eval", eval_command, "quality metrics on an eval set").add_argument(
        "file", nargs="?", help=f"eval directory or file (default {DEFAULT_EVAL_DIR})"
    )
    add("run", run_command, "serve a messenger").add_argument(
        "--channel", choices=["telegram", "wechat", "all"], default="telegram", help="default: telegram"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors become one clear line on stderr and exit status 1."""
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        settings = get_settings()
        configure_logging(verbose=args.verbose, secrets=settings.secret_values())
        return handler(args, settings)
    except BotError as error:
        logger.debug("command failed", exc_info=True)
        print(f"panelbot: {error}", file=sys.stderr)
        return 1
