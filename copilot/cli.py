"""The `cx-copilot` command line: ingest, ask, sources, remove, rebuild, serve, eval."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import config
from .errors import CopilotError


class _Bar:
    """A progress display on stderr: a tqdm bar per stage, only for loads big enough to wait for."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bars: dict = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet or total < 20 or stage == "reading":
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit=" chunks", file=sys.stderr, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    def close(self):
        for bar in self.bars.values():
            bar.close()


def _messages(quiet: bool) -> None:
    """What the index has to say while a command runs (building, waiting for another writer, recovering) goes
    to stderr as plain lines."""
    logger = logging.getLogger("copilot")
    if not any(getattr(h, "_cx_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._cx_cli = True
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _index_dir(args) -> Path:
    return Path(args.index_dir) if args.index_dir else config.default_index_dir()


def _open(args, build: bool = True):
    from .core import Copilot

    _messages(getattr(args, "quiet", False))
    bar = _Bar(getattr(args, "quiet", False))
    try:
        return Copilot(_index_dir(args), corpus=build, progress=bar, chroma_url=args.chroma_url)
    finally:
        bar.close()


def cmd_ingest(args) -> int:
    cp = _open(args, build=not args.no_corpus)
    bar = _Bar(args.quiet)
    try:
        report = cp.ingest(args.paths, progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for f in report.files:
            print(f.line(), file=sys.stderr if f.status == "failed" else sys.stdout)
        print(f"{report.summary()} in {report.seconds:.1f} s")
    return 1 if report.failed else 0


def _answerer(args):
    from .llm import make_answerer

    return make_answerer(args.backend)


def cmd_ask(args) -> int:
    cp = _open(args)
    answerer = _answerer(args)
    history = []
    if args.history:
        history = json.loads(Path(args.history).read_text())
    if args.json:
        result = cp.answer(args.question, history, answerer=answerer)
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        return 0
    from .answering import Answer

    result = None
    pieces: list[str] = []
    for item in cp.stream(args.question, history, answerer=answerer):
        if isinstance(item, Answer):
            result = item
        else:
            pieces.append(item)
            print(item, end="", flush=True)
    print()
    if result and result.text.strip() != "".join(pieces).strip():
        print("\n(checked against the sources:)\n" + result.text)
    for note in (result.notes if result else []):
        print(f"note: {note}", file=sys.stderr)
    if result and result.citations:
        print("\nSources:")
        for c in result.citations:
            where = f"p. {c.page}" if c.page else c.section
            print(f"  [{c.n}] {c.title} ({c.source}{', ' + where if where else ''})")
    return 0


def cmd_sources(args) -> int:
    cp = _open(args)
    rows = cp.sources()
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("No documents loaded.")
        return 0
    width = max(len(r["source"]) for r in rows)
    for r in rows:
        pages = f", {r['pages']} pages" if r.get("pages") else ""
        print(f"{r['source'].ljust(width)}  {r['chunks']:>4} chunks{pages}  {r['title']}")
    print(f"{len(rows)} sources, {sum(r['chunks'] for r in rows)} chunks")
    return 0


def cmd_remove(args) -> int:
    cp = _open(args, build=False)
    n = cp.remove(args.source)
    print(f"removed {args.source} ({n} chunks)")
    return 0


def cmd_rebuild(args) -> int:
    from .core import rebuild_index

    index_dir = _index_dir(args)
    _messages(args.quiet)
    print(f"Rebuilding {args.chroma_url or index_dir}...", file=sys.stderr)
    bar = _Bar(args.quiet)
    try:
        cp, report, missing = rebuild_index(index_dir, progress=bar, chroma_url=args.chroma_url)
    finally:
        bar.close()
    for p in missing:
        print(f"kept: {p}: the file no longer exists, so its stored passages were carried over as they were",
              file=sys.stderr)
    for f in report.failed if report else []:
        print(f.line(), file=sys.stderr)
    print(f"{len(cp.sources())} sources, {sum(s['chunks'] for s in cp.sources())} chunks")
    return 1 if report and report.failed else 0


def cmd_serve(args) -> int:
    from .ui import check_host, serve

    check_host(args.host)  # refuse a public address without an admin password before building anything
    if args.backend:  # the web app's default backend (it offers a choice when several are configured)
        os.environ["COPILOT_BACKEND"] = args.backend
    cp = _open(args)
    serve(cp, host=args.host, port=args.port)
    return 0


def cmd_eval(args) -> int:
    import tempfile
    from dataclasses import replace

    from .evaluation import KINDS, evaluate, format_table, golden_files, with_test_documents

    golden = golden_files()
    if args.limit:
        golden = {kind: items[: args.limit] for kind, items in golden.items()}
    with tempfile.TemporaryDirectory(prefix="cx-eval-") as tmp:
        # the user's index stays untouched: the test documents go into a copy of it
        cp = with_test_documents(_open(args), Path(tmp) / "index")
        cp.answer("warm-up")  # load the model before timing
        rows = []
        if args.all_backends:
            from .llm import configured_backends

            backends = configured_backends()
        else:
            backends = [args.backend]
        for backend in backends:
            args.backend = backend
            report = evaluate(cp, golden, label=backend or "hybrid", kinds=KINDS, answerer=_answerer(args))
            rows.append(report.metrics())
        if args.ablation:  # the same questions with each retriever alone and with plain reciprocal rank fusion
            for method in ("dense", "bm25", "rrf"):
                cp.retriever.settings = replace(cp.retrieval, method=method)
                rows.append(evaluate(cp, golden, label=method, kinds=KINDS).metrics())
            cp.retriever.settings = cp.retrieval
    print(format_table(rows))
    if args.output:
        Path(args.output).write_text(json.dumps({"metrics": rows, "failures": [j.__dict__ for j in report.failures()]},
                                                indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx-copilot", description="Cited answers to customer-experience "
                                     "questions from a local knowledge base.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", help="index folder (default: $COPILOT_INDEX_DIR, else indexes/default); "
                        "with --chroma-url it only holds this machine's caches and the app's uploads")
    common.add_argument("--chroma-url", default=config.chroma_url(), metavar="URL",
                        help="keep the index on a Chroma server, shared by every replica, e.g. "
                        "http://127.0.0.1:8000 (default: $COPILOT_CHROMA_URL, else embedded in --index-dir)")
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    common.add_argument("--backend", choices=["extractive", "openai", "ollama", "llamacpp"],
                        help="answer backend (default: $COPILOT_BACKEND, else extractive)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="load files or folders (PDF, Markdown, text, HTML)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--json", action="store_true", help="print the per-file report as JSON")
    p.add_argument("--no-corpus", action="store_true", help="start a new index empty, without the built-in corpus")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", parents=[common], help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print answer, abstained and citations as JSON")
    p.add_argument("--history", help="a JSON file of earlier turns: [[role, text], ...]")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("sources", parents=[common], help="list loaded documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("remove", parents=[common], help="remove a document (file name) from the index")
    p.add_argument("source")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("rebuild", parents=[common], help="rebuild the index from the files it was loaded from")
    p.set_defaults(func=cmd_rebuild)

    p = sub.add_parser("serve", parents=[common], help="start the web app")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1); any other "
                   "than this machine needs COPILOT_ADMIN_PASSWORD")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", parents=[common], help="score answers against the golden set")
    p.add_argument("--output", help="write metrics and failures as JSON here")
    p.add_argument("--ablation", action="store_true", help="also score dense-only, BM25-only and RRF retrieval")
    p.add_argument("--limit", type=int, help="only the first N items of each kind (a quick smoke run)")
    p.add_argument("--all-backends", action="store_true",
                   help="score every configured answer backend (extractive plus each configured LLM)")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CopilotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
