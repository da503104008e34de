"""Fit the extractive answerer's weights: the sentence scorer, the abstention model and the selection settings.

    .venv/bin/python benchmarks/fit_answer.py            # writes copilot/answer/weights.json
    .venv/bin/python benchmarks/fit_answer.py --check    # fit and report, write nothing

Training data (never the report split of the development set):
- the **fit** split of the development set (`copilot.devset`: the first article, written by others), loaded
  in each of the four formats (Markdown, HTML with clutter, text, PDF) into a copy of the built-in index:
  a sentence is a positive when it holds a gold answer span;
- the golden questions over the built-in corpus (`tests/golden/`: questions, test documents and
  conversations): a sentence is a positive when it holds one of the expected facts;
- with `--corpus-questions FILE` (measured, not in the shipped weights): questions and conversations over the
  built-in corpus written for training, in the words people chat in rather than the corpus's headings
  (`benchmarks/data/corpus-train.jsonl`, kind "corpus"): labelled and weighted like the golden questions,
  judged with them in the selection grid;
- for abstention, the same answerable questions are positives; negatives are the fit split's questions
  asked of the built-in index *without* their article, and `benchmarks/data/offtopic-train.jsonl`
  (off-topic questions written for training, not the golden off-topic set) asked of both indexes.

The sentence scorer is linear in the standardised features, fitted either to rank the candidates of each
question (`fit_listwise`, a conditional logit, then calibrated: `--objective listwise`, the default and the
shipped weights) or as a logistic regression over all sentences (`pointwise`; `choose`: the better by
cross-validation). The abstention model is a logistic
regression (scikit-learn) on evidence that includes the best sentence's probability: with a listwise scorer
that probability comes from a pointwise model fitted alongside (`confidence` in the weights file), since a
ranking within one question says nothing about whether the index answers it at all.

The selection settings (how close to the best sentence a further sentence must score, when
another passage's best sentence follows) are chosen on the training questions by a small grid: the most
answers holding the fact, with the median answer within the length budget (`--median-words`, 55 on the fit
split, under the product's 60). The best twelve are then judged on the golden follow-up conversations
(`tests/golden/followups.jsonl`, answered for real: a longer first answer leaves less for the next turn to
say), and the best mean of the three figures (fit split, golden, follow-ups) wins. The abstention threshold
is the highest that keeps declined answerable training questions at or under `--max-declined`.
Cross-validated figures (grouped by question) are printed and stored in the weights file's `fitted_on`
record. The held-out sets (`benchmarks/heldout.jsonl`, `benchmarks/followups-heldout.jsonl`) are never read.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from copilot import Copilot, devset  # noqa: E402
from copilot.answer import features as F  # noqa: E402
from copilot.answer.abstain import EVIDENCE, evidence  # noqa: E402
from copilot.answer.candidates import candidates  # noqa: E402
from copilot.answer.extractive import ExtractiveAnswerer  # noqa: E402
from copilot.answer.pipeline import Ranking  # noqa: E402
from copilot.answer.scorer import LinearModel, Weights, save_weights  # noqa: E402
from copilot.answer.settings import AnswerSettings  # noqa: E402
from copilot.evaluation import (evaluate, golden_files, has_fact, load_jsonl,  # noqa: E402
                                with_test_documents)

OFFTOPIC_TRAIN = ROOT / "benchmarks" / "data" / "offtopic-train.jsonl"
CORPUS_TRAIN = ROOT / "benchmarks" / "data" / "corpus-train.jsonl"
CORPUS_KINDS = ("golden", "corpus")  # questions over the built-in corpus: weighted by the golden weight


@dataclass
class Item:
    """One training question as the pipeline saw it."""

    group: str  # question id (rows of one question are never split across folds)
    kind: str  # dev / golden / corpus (corpus questions written for training) / offtopic
    answerable: bool
    ranking: Ranking
    labels: np.ndarray  # per candidate: does it hold the answer?
    truth: object  # gold spans (dev) or facts (golden), to judge a composed answer
    x: np.ndarray  # candidates x all features


def ranking_for(cp: Copilot, question: str, history=None) -> Ranking:
    standalone, hits, passages, query = cp.gather(question, history)
    read = passages[: cp.answer_settings.passages_read]
    q = F.prepare(standalone, query)
    cands = candidates(read)
    b = F.batch(q, cands, read)
    x = F.matrix(b)
    return Ranking(q, read, cands, b, x, np.zeros(len(cands)))


def holds(kind: str, text: str, truth) -> bool:
    if kind == "dev":
        return devset.holds_span(text, truth)
    return any(has_fact(text, f) for f in truth)


def answer_ok(kind: str, text: str, truth) -> bool:
    if kind == "dev":
        return devset.holds_span(text, truth)
    return all(has_fact(text, f) for f in truth)


def collect(cp: Copilot, items: list[dict], kind: str, answerable: bool, tag: str) -> list[Item]:
    out = []
    for it in items:
        history = []
        if "turns" in it:
            for turn in it["turns"][:-1]:
                prev = cp.answer(turn, history)
                history += [("user", turn), ("assistant", prev.text)]
            question = it["turns"][-1]
        else:
            question = it["question"]
        r = ranking_for(cp, question, history)
        truth = it.get("answers") if kind == "dev" else it.get("facts", [])
        labels = np.array([holds(kind, c.text, truth) for c in r.cands], dtype=bool) if answerable and truth else \
            np.zeros(len(r.cands), dtype=bool)
        out.append(Item(f"{tag}:{it['id']}", kind, answerable, r, labels, truth, r.features))
    return out


def build_indexes(work: Path, articles: list[dict], formats: list[str]) -> tuple[Path, dict[str, Path]]:
    base = work / "base"
    Copilot(base).close()  # builds the built-in corpus's index, or brings it up to date (quick when current)
    dev: dict[str, Path] = {}
    for fmt in formats:
        folder = work / f"dev-{fmt}"
        done = folder / "loaded"  # written once the articles are in: a half-built folder is built again
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(base, folder / "index")
            devset.write_articles(articles, folder / "docs", layout=[fmt])
            report = Copilot(folder / "index", corpus=False).ingest([folder / "docs"])
            if report.failed:
                raise SystemExit("could not load the dev articles: " + "; ".join(f.line() for f in report.failed))
            done.write_text("ok\n")
        dev[fmt] = folder / "index"
    return base, dev


def collect_all(work: Path, articles: list[dict], formats: list[str],
                corpus_questions: Path | None = None) -> list[Item]:
    base_dir, dev_dirs = build_indexes(work, articles, formats)
    base = Copilot(base_dir, corpus=False)
    questions = [q for a in articles for q in a["questions"]]
    offtopic = load_jsonl(OFFTOPIC_TRAIN)
    golden = golden_files()
    items: list[Item] = []
    for fmt, folder in dev_dirs.items():
        cp = Copilot(folder, embedder=base.embedder, corpus=False)
        items += collect(cp, questions, "dev", True, f"dev-{fmt}")
        items += collect(cp, offtopic, "offtopic", False, f"off-{fmt}")
        print(f"  {fmt}: {len(questions)} questions", file=sys.stderr)
    items += collect(base, questions, "offtopic", False, "absent")
    items += collect(base, offtopic, "offtopic", False, "off-base")
    items += collect(base, golden["question"] + golden["conversation"], "golden", True, "golden")
    if corpus_questions is not None:
        items += collect(base, load_jsonl(corpus_questions), "corpus", True, "train")
    with tempfile.TemporaryDirectory(prefix="cx-fit-docs-") as docs:
        items += collect(with_test_documents(base, Path(docs) / "index"), golden["document"], "golden", True,
                         "golden-docs")
    return items


# ---------------------------------------------------------------- fitting

def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit_linear(x: np.ndarray, y: np.ndarray, names: list[str], c: float, balanced: bool = False,
               weight: np.ndarray | None = None) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = standardise(x)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced" if balanced else None)
    model.fit((x - mean) / scale, y, sample_weight=weight)
    return LinearModel(tuple(names), tuple(map(float, mean)), tuple(map(float, scale)),
                       tuple(map(float, model.coef_[0])), float(model.intercept_[0]))


def top1(items: list[Item], model: LinearModel, cols: list[int]) -> float:
    """Share of answerable questions (with a positive candidate) whose best-scored sentence holds the answer."""
    hits = [bool(it.labels[int(np.argmax(model.decision(it.x[:, cols])))]) for it in items if it.labels.any()]
    return float(np.mean(hits)) if hits else 0.0


def sentence_rows(items: list[Item], golden_weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked features, labels and sample weights; the corpus's golden questions count `golden_weight` times."""
    rows = [it for it in items if len(it.labels)]
    x = np.vstack([it.x for it in rows])
    y = np.concatenate([it.labels for it in rows])
    w = np.concatenate([np.full(len(it.labels), golden_weight if it.kind in CORPUS_KINDS else 1.0) for it in rows])
    return x, y, w


def fit_listwise(items: list[Item], names: list[str], c: float, golden_weight: float) -> LinearModel:
    """A sentence scorer fitted to rank within each question: a conditional logit (McFadden 1974; the
    "ListNet"/softmax ranking loss of Cao et al. 2007 with the positives pooled). Each question's candidates
    get a softmax over `z . w`; the loss is minus the log of the probability mass on the sentences that hold
    the answer, plus `||w||^2 / (2 c)`. Every question counts once (golden ones `golden_weight` times), however
    many candidates it has, and nothing is spent on making scores comparable *across* questions, which the
    pointwise regression must do and which the answer never needs: the pipeline only compares the sentences of
    one question. The direction `w` is then calibrated by a one-feature logistic regression on the training
    sentences, so `probability` stays a probability (the selection's floors and the abstention's evidence read
    it). Questions whose candidates are all positive or all negative carry no ranking information and are left
    out."""
    from scipy.optimize import minimize
    from sklearn.linear_model import LogisticRegression

    rows = [it for it in items if it.labels.any() and not it.labels.all()]
    mean, scale = standardise(np.vstack([it.x for it in rows]))
    zs = [(it.x - mean) / scale for it in rows]
    ys = [it.labels for it in rows]
    ws = [golden_weight if it.kind in CORPUS_KINDS else 1.0 for it in rows]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.5 * (w @ w) / c, w / c
        for z, y, weight in zip(zs, ys, ws):
            e = np.exp(z @ w - (z @ w).max())
            on = np.where(y, e, 0.0)
            total += weight * (np.log(e.sum()) - np.log(on.sum()))
            grad = grad + weight * (z.T @ (e / e.sum() - on / on.sum()))
        return float(total), grad

    w = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B").x
    score = np.concatenate([z @ w for z in zs])
    calib = LogisticRegression(C=1e4, max_iter=5000).fit(score[:, None], np.concatenate(ys))
    slope, intercept = float(calib.coef_[0][0]), float(calib.intercept_[0])
    return LinearModel(tuple(names), tuple(map(float, mean)), tuple(map(float, scale)),
                       tuple(map(float, slope * w)), intercept)


OBJECTIVES = ("listwise", "pointwise")


def fit_sentence(items: list[Item], names: list[str], c: float, golden_weight: float, objective: str) -> LinearModel:
    """The sentence scorer under `objective`: "listwise" (`fit_listwise`) or "pointwise" (a logistic
    regression over all candidate sentences, each one a sample)."""
    if objective == "listwise":
        return fit_listwise(items, names, c, golden_weight)
    x, y, w = sentence_rows(items, golden_weight)
    return fit_linear(x, y, names, c, weight=w)


def fold_splits(items: list[Item], folds: int = 5) -> list[tuple[list[Item], list[Item]]]:
    """(train, test) for each of `folds` folds grouped by question (a question asked of the article in four
    formats stays in one fold), the same folds every run."""
    groups = sorted({it.group.split(":", 1)[1] for it in items})
    order = np.random.default_rng(0).permutation(len(groups))
    fold_of = {groups[k]: n % folds for n, k in enumerate(order)}
    return [([it for it in items if fold_of[it.group.split(":", 1)[1]] != f],
             [it for it in items if fold_of[it.group.split(":", 1)[1]] == f]) for f in range(folds)]


def cross_validate(items: list[Item], names: list[str], c: float, golden_weight: float, objective: str,
                   folds: int = 5) -> dict:
    """Top-1 accuracy per kind, with folds grouped by question."""
    cols = list(range(len(names)))
    right: dict[str, int] = {kind: 0 for kind in ("dev", *CORPUS_KINDS)}
    total: dict[str, int] = dict(right)
    for train, test in fold_splits(items, folds):
        model = fit_sentence(train, names, c, golden_weight, objective)
        for it in test:
            if it.labels.any():
                right[it.kind] += bool(it.labels[int(np.argmax(model.decision(it.x[:, cols])))])
                total[it.kind] += 1
    return {kind: right[kind] / total[kind] for kind in right if total[kind]}


def simulate(items: list[Item], settings: AnswerSettings) -> tuple[float, float]:
    """Share of answerable items whose composed answer holds the answer, and the median answer length."""
    answerer = ExtractiveAnswerer(settings)
    ok, lengths = [], []
    for it in items:
        a = answerer.from_ranking(it.ranking.question.text, it.ranking)
        ok.append(answer_ok(it.kind, a.text, it.truth))
        lengths.append(devset.answer_words(a.text))
    return float(np.mean(ok)), float(statistics.median(lengths))


_GRID: dict = {}  # what the grid's worker processes read (inherited when they fork)


def _judge_point(point: dict) -> tuple[float, float, float]:
    s = replace(_GRID["defaults"], **point)
    dev_ok, dev_words = simulate(_GRID["dev"], s)
    gold_ok, _ = simulate(_GRID["golden"], s)
    return dev_ok, gold_ok, dev_words


def judge_grid(dev_items: list[Item], gold_items: list[Item], defaults: AnswerSettings, grid: list[dict],
               jobs: int) -> list[tuple[float, float, float]]:
    """(fit split holds the answer, golden holds every fact, fit split median words) for each grid point, in
    grid order; `jobs` processes share the work (the figures do not depend on how many)."""
    _GRID.update(dev=dev_items, golden=gold_items, defaults=defaults)
    if jobs <= 1:
        return [_judge_point(p) for p in grid]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return pool.map(_judge_point, grid, chunksize=16)


def conversations(index_dir: Path, embedder, weights: Weights, path: Path, items: list[dict]) -> float:
    """Share of follow-up conversations (judged on their last turn) whose answer holds every expected fact and
    cites it, answered for real with `weights`: a setting that makes first turns longer leaves less for the
    next turn to say, which single questions cannot show."""
    save_weights(weights, path)
    cp = Copilot(index_dir, embedder=embedder, answerer=ExtractiveAnswerer(AnswerSettings.fitted(str(path))),
                 corpus=False)
    try:
        report = evaluate(cp, {"followup": items}, kinds=("followup",))
    finally:
        cp.close()
    return float(np.mean([j.supported for j in report.judgements])) if report.judgements else 0.0


def fit_options(argv: list[str]) -> list[str]:
    """The command-line options that change the fit (not where its working files live)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--work", "--items", "--out", "--jobs"):
            skip = True
        elif not arg.startswith(("--work=", "--items=", "--out=", "--jobs=")):
            out.append(arg)
    return out


def weight_list(text: str) -> list[float]:
    """`--golden-weights`: a comma-separated list of positive numbers ("1,2,4")."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas, got {text!r}")
    return values


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev-set", default=None, help="development set file (default: benchmarks/data/...)")
    ap.add_argument("--work", default=None, help="keep the training indexes in this folder (reused next time)")
    ap.add_argument("--formats", default="markdown,html,text,pdf")
    ap.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--objective", choices=("choose", *OBJECTIVES), default="listwise",
                    help="the sentence scorer's loss: ranking within each question (listwise, default), each "
                         "sentence on its own (pointwise), or the better of the two by cross-validation")
    ap.add_argument("--max-declined", type=float, default=0.01,
                    help="largest share of answerable training questions the abstention threshold may decline")
    ap.add_argument("--finalists", type=int, default=12,
                    help="how many of the best selection settings on single questions are judged on conversations")
    ap.add_argument("--median-words", type=float, default=55,
                    help="the longest median answer (words) on the fit split the selection settings may give")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes that judge the selection grid (default: one per core)")
    ap.add_argument("--golden-weights", type=weight_list, default=[1.0, 2.0, 4.0],
                    help="the weights of the corpus's own questions that cross-validation chooses from")
    ap.add_argument("--corpus-questions", type=Path, default=None,
                    help=f"also fit on these questions over the built-in corpus (e.g. {CORPUS_TRAIN.relative_to(ROOT)})")
    ap.add_argument("--check", action="store_true", help="fit and report, but do not write the weights file")
    ap.add_argument("--out", default=None, help="write the weights here (default: copilot/answer/weights.json)")
    ap.add_argument("--items", default=None,
                    help="a file of collected training questions: read it if it exists, else write it (saves the "
                         "collection step when trying fit options)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    articles = devset.split(devset.load(args.dev_set), "fit")
    tmp = None
    work = Path(args.work) if args.work else Path(tmp := tempfile.mkdtemp(prefix="cx-fit-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.items and Path(args.items).exists():
            with open(args.items, "rb") as fh:
                items = pickle.load(fh)
        else:
            if args.corpus_questions is not None and not args.corpus_questions.is_file():
                ap.error(f"--corpus-questions: {args.corpus_questions} does not exist")
            items = collect_all(work, articles, args.formats.split(","), args.corpus_questions)
            if args.items:
                with open(args.items, "wb") as fh:
                    pickle.dump(items, fh)
        for it in items:  # features are recomputed from the stored rankings, so they may change between fits
            r = it.ranking
            r.batch = F.batch(r.question, r.cands, r.passages)
            it.x = F.matrix(r.batch) if len(r.cands) else np.zeros((0, len(F.FEATURES)))
        print(f"{len(items)} questions ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

        # the sentence scorer: its objective and the weight of the corpus's own questions are chosen by
        # cross-validation (the best summed top-1 of the fit split and the golden questions)
        names = list(F.FEATURES)
        answerable = [it for it in items if it.answerable and len(it.labels)]
        objectives = OBJECTIVES if args.objective == "choose" else (args.objective,)
        cv_by = {(obj, gw): cross_validate(answerable, names, args.c, gw, obj)
                 for obj in objectives for gw in args.golden_weights}
        for (obj, gw), cv in cv_by.items():
            print(f"  {obj}, golden weight {gw}: top-1 cross-validated {cv}", file=sys.stderr)
        objective, golden_weight = max(cv_by, key=lambda key: sum(cv_by[key].values()))
        cv = cv_by[(objective, golden_weight)]
        sentence = fit_sentence(answerable, names, args.c, golden_weight, objective)
        # a listwise scorer only ranks within a question; abstention needs scores comparable across questions:
        # those come from the pointwise model (its golden weight chosen by the same cross-validation)
        confidence = None
        if objective == "listwise":
            point_weight = max((gw for obj, gw in cv_by if obj == "pointwise"),
                               key=lambda gw: sum(cv_by[("pointwise", gw)].values()), default=golden_weight)
            confidence = fit_sentence(answerable, names, args.c, point_weight, "pointwise")
        cols = list(range(len(names)))
        for it in items:
            it.ranking.scores = sentence.probability(it.x[:, cols]) if len(it.labels) else np.zeros(0)
            it.ranking.confidence = None if confidence is None else \
                confidence.probability(it.x[:, cols]) if len(it.labels) else np.zeros(0)
        fit_top1 = {kind: top1([it for it in answerable if it.kind == kind], sentence, cols)
                    for kind in ("dev", *CORPUS_KINDS) if any(it.kind == kind for it in answerable)}
        print(f"sentence scorer ({objective}, golden weight {golden_weight}): top-1 {fit_top1} in sample, "
              f"{cv} cross-validated",
              file=sys.stderr)

        # abstention
        ev_names = list(EVIDENCE)
        ex = np.array([evidence(it.ranking, ev_names) for it in items])
        ey = np.array([it.answerable for it in items])
        abstain = fit_linear(ex, ey, ev_names, args.c, balanced=True)
        p = abstain.probability(ex)
        pos = np.sort(p[ey])
        threshold = float(pos[int(np.floor(args.max_declined * len(pos)))]) - 1e-6 if len(pos) else 0.5
        declined_pos = float(np.mean(p[ey] < threshold))
        declined_neg = float(np.mean(p[~ey] < threshold))
        print(f"abstention: threshold {threshold:.3f}: answerable declined {declined_pos:.3f}, "
              f"unanswerable declined {declined_neg:.3f}", file=sys.stderr)

        # selection settings: the most answers holding the fact, with the median answer within the budget; the
        # best few on single questions are then judged on follow-up conversations as well, answered for real
        defaults = AnswerSettings()
        target = args.median_words
        dev_items = [it for it in answerable if it.kind == "dev"]
        gold_items = [it for it in answerable if it.kind in CORPUS_KINDS]  # the golden questions and the
        # corpus questions written for training: the grid's corpus figure
        grid = [dict(max_words=mw, max_sentences=ms, section_threshold=tau, section_words=sw, context_ratio=ratio,
                     context_min=floor, gain_min=gain, second_ratio=second, next_ratio=after)
                for mw in (50, 60, 80, 100, 120) for ms in (3, 4) for tau in (0.2, 0.3, 0.5) for sw in (100, 130, 160)
                for ratio in (0.3, 0.5) for floor in (0.05, 0.2) for gain in (0.15, 0.3, 1.01)
                for second in (0.4, 0.6, 0.8, 1.01) for after in (0.2, 1.01)]
        scored = []
        for point, (dev_ok, gold_ok, dev_words) in zip(grid, judge_grid(dev_items, gold_items, defaults, grid,
                                                                         args.jobs)):
            if dev_words <= target:
                scored.append(((dev_ok + gold_ok) / 2, point, dev_ok, gold_ok, dev_words))
        if not scored:
            raise SystemExit("no selection setting keeps the median answer within the budget")
        scored.sort(key=lambda row: -row[0])  # stable: of equal points, the grid's first
        finalists = scored[: args.finalists]
        followups = golden_files()["followup"]
        base_dir = work / "base"
        base = Copilot(base_dir)  # the built-in index (already there when this work folder collected the questions)
        base.close()
        with tempfile.TemporaryDirectory(prefix="cx-fit-weights-") as wdir:
            judged = []
            for n, (_, point, dev_ok, gold_ok, dev_words) in enumerate(finalists):
                trial = Weights(sentence, abstain, threshold, point, {}, confidence)
                conv_ok = conversations(base_dir, base.embedder, trial,
                                        Path(wdir) / f"w{n}.json", followups)
                judged.append(((dev_ok + gold_ok + conv_ok) / 3, -n, point, dev_ok, gold_ok, conv_ok, dev_words))
                print(f"  finalist {n + 1}: dev {dev_ok:.3f}, corpus questions {gold_ok:.3f}, follow-ups {conv_ok:.3f}, "
                      f"median {dev_words:.0f} words {point}", file=sys.stderr)
        _, _, chosen, dev_ok, gold_ok, conv_ok, dev_words = max(judged, key=lambda row: row[:2])
        golden_only, _ = simulate([it for it in gold_items if it.kind == "golden"], replace(defaults, **chosen))
        print(f"selection {chosen}: dev {dev_ok:.3f}, corpus questions {gold_ok:.3f} (golden {golden_only:.3f}), "
              f"follow-ups {conv_ok:.3f}, median {dev_words:.0f} words (best of {len(finalists)} finalists)",
              file=sys.stderr)

        record = {
            "command": " ".join(["python benchmarks/fit_answer.py", *fit_options(sys.argv[1:])]),
            "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "dev_set": devset.ATTRIBUTION + "; fit split: " + ", ".join(a["title"] for a in articles),
            "formats": args.formats.split(","),
            "questions": {"dev": sum(it.kind == "dev" for it in items), "golden": sum(it.kind == "golden" for it in items),
                          "corpus_train": sum(it.kind == "corpus" for it in items),
                          "negatives": int((~ey).sum())},
            "objective": objective,
            "golden_weight": golden_weight,
            "confidence_golden_weight": point_weight if confidence is not None else None,
            "sentence_top1_cv": {k: round(v, 4) for k, v in cv.items()},
            "sentence_top1_in_sample": {k: round(v, 4) for k, v in fit_top1.items()},
            "selection": {"dev_in_answer": round(dev_ok, 4), "golden_supported": round(golden_only, 4),
                          "corpus_supported": round(gold_ok, 4),
                          "golden_followups": round(conv_ok, 4), "dev_median_words": dev_words,
                          "finalists": len(finalists)},
            "abstention": {"answerable_declined": round(declined_pos, 4), "unanswerable_declined": round(declined_neg, 4)},
            "c": args.c,
        }
        weights = Weights(sentence, abstain, threshold, chosen, record, confidence)
        if not args.check:
            path = save_weights(weights, args.out)
            print(f"wrote {path}", file=sys.stderr)
        print(json.dumps(record, indent=1))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
