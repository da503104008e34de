"""The `cx-copilot` command line: ingest, ask, sources, remove, rebuild, serve, eval, metrics."""

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
    from .core import Copilot  # imports neither torch, gradio nor LangChain: `ask` starts in about a second

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
    from .backends import make_answerer

    return make_answerer(args.backend)


def _read_history(path: str) -> list:
    """The --history file as a list of turns, or a CopilotError saying what is wrong with it."""
    from .inputs import HISTORY_SHAPE, InputError, parse_history

    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise CopilotError(f"--history {path}: file not found; give a file holding {HISTORY_SHAPE}.") from None
    except IsADirectoryError:
        raise CopilotError(f"--history {path} is a folder; give a file holding {HISTORY_SHAPE}.") from None
    except OSError as exc:
        raise CopilotError(f"--history {path} cannot be read ({exc.strerror or exc}).") from None
    try:
        return parse_history(data, what=f"--history {path}")
    except InputError as exc:
        raise CopilotError(str(exc)) from None


def cmd_ask(args) -> int:
    history = _read_history(args.history) if args.history else []  # before the index is opened: fail fast
    answerer = _answerer(args)  # an unknown backend fails here too; nothing is loaded yet
    cp = _open(args)
    if args.json:
        result = cp.answer(args.question, history, answerer=answerer)
        # which answerer produced the final answer ("local", "extractive (fallback from local)") and why
        out = {**result.to_dict(), "backend": result.backend, "notes": list(result.notes)}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        return 0
    from .answer import Answer

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
        # what grounding kept of the streamed reply, or the answer that replaced it ("extractive (fallback from
        # local)"; the notes below say why)
        label = "checked against the sources" if result.backend == answerer.name else f"answered by {result.backend}"
        print(f"\n({label}:)\n" + result.text)
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
        n = r.get("instructions") or 0
        flag = f"  (⚠ {n} sentence{'s' if n != 1 else ''} addressed to an AI assistant, never used)" if n else ""
        print(f"{r['source'].ljust(width)}  {r['chunks']:>4} chunks{pages}  {r['title']}{flag}")
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
    from .ui import HostPolicy, check_host, serve

    check_host(args.host)  # refuse a public address without an admin password before building anything
    HostPolicy.for_server(args.host, args.allowed_host or ())  # and a bad --allowed-host
    if args.backend:  # the web app's default backend (it offers a choice when several are configured)
        from .backends import normalise_backend

        os.environ["COPILOT_BACKEND"] = normalise_backend(args.backend)
    cp = _open(args)
    serve(cp, host=args.host, port=args.port, allowed_hosts=args.allowed_host or ())
    return 0


def cmd_eval(args) -> int:
    import tempfile
    from dataclasses import replace

    from . import devset
    from .backends import Tally
    from .evaluation import GOLDEN_COLUMNS, KINDS, evaluate, format_table, golden_files, with_test_documents

    out: dict = {}
    base = _open(args)
    out["answer_settings"] = base.answer_settings.as_dict()
    out["retrieval_settings"] = base.retrieval.__dict__
    report = None
    with tempfile.TemporaryDirectory(prefix="cx-eval-") as tmp:
        if not args.dev_only:
            golden = golden_files()
            if args.limit:
                golden = {kind: items[: args.limit] for kind, items in golden.items()}
            # the user's index stays untouched: the test documents go into a copy of it
            cp = with_test_documents(base, Path(tmp) / "golden" / "index")
            cp.answer("warm-up")  # load the model before timing
            rows = []
            for backend in _backends(args):
                args.backend = backend
                answerer = Tally(_answerer(args))  # what a language model's replies became
                report = evaluate(cp, golden, label=backend or "hybrid", kinds=KINDS, answerer=answerer)
                rows.append({**report.metrics(), **answerer.metrics()})
                if answerer.answers and answerer.name != "extractive":  # why replies were replaced, and how often
                    out.setdefault("fallback_reasons", {})[answerer.name] = dict(answerer.reasons())
            if args.ablation:  # the same questions with each retriever alone and with plain reciprocal rank fusion
                for method in ("dense", "bm25", "rrf"):
                    cp.retriever.settings = replace(cp.retrieval, method=method)
                    rows.append(evaluate(cp, golden, label=method, kinds=KINDS).metrics())
                cp.retriever.settings = cp.retrieval
            rows.append(evaluate(cp, golden, label="follow-ups", kinds=("followup",)).metrics())
            print("Golden set (tests/golden; follow-ups: tests/golden/followups.jsonl, scored apart):")
            print(format_table(rows, GOLDEN_COLUMNS + list(Tally.COLUMNS)))
            out["golden"] = rows
            out["failures"] = [j.__dict__ for j in report.failures()]
        if not args.golden_only:
            articles = devset.load(args.dev_set)
            layout = args.dev_layout.split(",")
            cp = devset.with_dev_documents(base, Path(tmp) / "dev", articles, layout, args.dev_offset)
            cp.answer("warm-up")
            part = devset.split(articles, args.dev_split)
            if args.limit:
                part = [{**a, "questions": a["questions"][: args.limit], "unanswerable": a.get("unanswerable", [])[: args.limit]}
                        for a in part]
            formats = {a["title"]: layout[(i + args.dev_offset) % len(layout)] for i, a in enumerate(articles)}
            dev_rows = []
            for backend in _backends(args):
                args.backend = backend
                metrics, judgements = devset.evaluate_dev(cp, part, label=f"{args.dev_split} ({backend or 'extractive'})",
                                                          answerer=_answerer(args))
                dev_rows.append(metrics)
            print(f"\nDevelopment set ({devset.ATTRIBUTION}), split '{args.dev_split}': "
                  + ", ".join(f"{a['title']} as {formats[a['title']]}" for a in part))
            print(devset.format_rows(dev_rows))
            out["dev"] = {"split": args.dev_split, "formats": formats, "metrics": dev_rows,
                          "misses": [j.__dict__ for j in judgements if j.answerable and not j.in_answer]}
    if args.output:
        Path(args.output).write_text(json.dumps(out, indent=2, default=str))
    return 0


def cmd_export_onnx(args) -> int:
    """Make the ONNX form of the embedding model now (`make install` does it; so does the first question)."""
    from .embeddings import export_onnx, find_onnx

    found = None if args.force or args.dir else find_onnx()
    path = found or export_onnx(args.dir)
    meta = json.loads(path.with_suffix(".json").read_text())
    print(f"{'found' if found else 'made'} {path} (lowest cosine to torch {meta['min_cosine']})")
    return 0


def cmd_metrics(args) -> int:
    """Survey metrics from a file of responses; opens no index."""
    from . import survey

    scale = None
    if args.scale:
        try:
            lo, hi = (int(x) for x in args.scale.replace("–", "-").split("-"))
        except ValueError:
            raise CopilotError(f"--scale {args.scale!r}: give the scale as LOW-HIGH, for example 1-5.") from None
        scale = (lo, hi)
    frame = survey.read_responses(args.file)
    guess = survey.guess_columns(frame)
    column = args.column or guess.score
    if column is None:
        raise CopilotError(f"{Path(args.file).name} has no column of numbers: the scores must be a column of "
                           "numbers (0-10 for NPS, 1-5 for CSAT, 1-7 for CES). Name it with --column.")
    options: dict = {"scale": scale, "confidence": args.confidence}
    if args.by:
        if args.by in survey.PERIODS:
            date = args.date_column or guess.date
            if date is None:
                raise CopilotError(f"--by {args.by} needs a column of dates: none was found, name it with "
                                   "--date-column.")
            options.update(date_column=date, period=args.by)
        else:
            by = args.by if args.by in frame.columns else (guess.segment if args.by == "segment" else None)
            if by is None:
                raise CopilotError(f"--by {args.by}: give a period ({', '.join(survey.PERIODS)}) or a column of "
                                   f"{Path(args.file).name} ({', '.join(map(str, frame.columns))}).")
            options.update(segment_column=by)
    if args.date_column and "date_column" not in options:
        options.update(date_column=args.date_column, period="month")
    report = survey.analyse(frame, args.metric or guess.metric or "nps", column, file=Path(args.file).name,
                            **options)
    saved = []
    if args.charts:
        from .charts import save_all

        saved = save_all(report, args.charts)
    if args.json:
        print(json.dumps({**report.to_dict(), "charts": [str(p) for p in saved]}, indent=2, ensure_ascii=False))
    else:
        print("\n".join(report.summary()))
        for p in saved:
            print(f"chart: {p}")
    return 0


def _backends(args) -> list:
    if args.all_backends:
        from .backends import configured_backends

        return configured_backends()
    return [args.backend]


def devset_layout() -> tuple[str, ...]:
    from .devset import LAYOUT

    return LAYOUT


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
    common.add_argument("--backend", metavar="NAME",
                        help="answer backend: extractive, openai, ollama or local (default: $COPILOT_BACKEND, "
                        "else extractive)")
    common.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="load files or folders (PDF, Markdown, text, HTML)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--json", action="store_true", help="print the per-file report as JSON")
    p.add_argument("--no-corpus", action="store_true", help="start a new index empty, without the built-in corpus")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("export-onnx", help="make the ONNX form of the embedding model (fast question embedding)")
    p.add_argument("--force", action="store_true", help="export again even if a checked file exists")
    p.add_argument("--dir", help="where to write it (default: $COPILOT_ONNX_DIR, else beside the packaged model, "
                   "else ~/.cache/cx-copilot/onnx)")
    p.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    p.set_defaults(func=cmd_export_onnx)

    p = sub.add_parser("ask", parents=[common], help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true",
                   help="print answer, abstained, citations, backend and notes as JSON")
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
    p.add_argument("--allowed-host", action="append", metavar="NAME",
                   help="a host name users reach the app under, besides this machine's own names (e.g. behind a "
                   "reverse proxy: copilot.example.org; .example.org allows its subdomains too); repeatable, "
                   "also $COPILOT_ALLOWED_HOSTS. Requests for any other name are refused (DNS rebinding)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", parents=[common], help="score answers against the golden set and the development set")
    p.add_argument("--output", help="write metrics, failures and the answer settings as JSON here")
    p.add_argument("--golden-only", action="store_true", help="only the golden set (tests/golden)")
    p.add_argument("--dev-only", action="store_true", help="only the development set written by others")
    p.add_argument("--dev-set", help="a development set file (default: benchmarks/data/squad-dev-3-articles.json)")
    p.add_argument("--dev-split", default="report", choices=["report", "fit", "all"],
                   help="which questions to ask: report (held back from fitting, the default), fit or all")
    p.add_argument("--dev-layout", default=",".join(devset_layout()),
                   help="formats the articles are written in, in turn (default: markdown,html,pdf,text)")
    p.add_argument("--dev-offset", type=int, default=0, help="rotate the formats by this many places")
    p.add_argument("--ablation", action="store_true", help="also score dense-only, BM25-only and RRF retrieval")
    p.add_argument("--limit", type=int, help="only the first N items of each kind (a quick smoke run)")
    p.add_argument("--all-backends", action="store_true",
                   help="score every configured answer backend (extractive plus each configured LLM)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("metrics", help="NPS, CSAT or CES from a CSV or Excel file of survey responses, with margins "
                       "of error, trend and segments")
    p.add_argument("file", help="a CSV, TSV or Excel (.xlsx) file with one response per row")
    p.add_argument("--metric", choices=["nps", "csat", "ces"], help="default: guessed from the column's name and "
                   "range")
    p.add_argument("--column", help="the column holding the scores (default: guessed)")
    p.add_argument("--by", help="a period (day, week, month, quarter, year) for the trend, or a column for the "
                   "segment comparison ('segment' picks one)")
    p.add_argument("--date-column", help="the column of dates for --by PERIOD (default: guessed)")
    p.add_argument("--scale", help="the answer scale as LOW-HIGH (default: 0-10 NPS, 1-5 CSAT, 1-7 CES)")
    p.add_argument("--confidence", type=float, default=0.95, help="for the margins of error (default 0.95)")
    p.add_argument("--charts", metavar="DIR", help="write the charts as PNG files into this folder")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    p.set_defaults(func=cmd_metrics)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CopilotError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a person gets one line; --debug shows the traceback
        if args.debug:
            raise
        detail = " ".join(str(exc).split())
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        print(f"error: {type(exc).__name__}{': ' + detail if detail else ''}\n"
              f"(an unexpected failure: run the command again with --debug to see where it happened)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
