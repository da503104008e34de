"""Answers from documents written by others: the development set's report split, ours against the textbook
pipeline, plus the loader steps that other libraries do (HTML main content, sentence splitting), before and
after.

    .venv/bin/python benchmarks/devset.py --out docs/devset.json

1. Ours: the report split's articles written in two rotations of formats (HTML with clutter and PDF; then
   text and Markdown) and loaded with every other article into a copy of the built-in index (`copilot.devset`).
2. The textbook LangChain pipeline (`benchmarks/baseline.py`) over the same articles as plain text: its
   "answer" is its top-4 chunks, so its first sentence is the first sentence of its best chunk.
3. HTML: the share of an article's words that reach the loaded text (recall) and the share of the loaded
   text that is page clutter, for the hand-written parser (`documents.html_to_sections`) and trafilatura.
4. Sentences: our splitter against pysbd (when installed): agreement and speed.

Data: SQuAD 2.0 development set (Rajpurkar, Jia and Liang, 2018), article text from Wikipedia, CC BY-SA 4.0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from copilot import Copilot, devset  # noqa: E402


def ours(index_dir: Path | None, articles: list[dict], work: Path) -> list[dict]:
    base = Copilot(index_dir) if index_dir else Copilot(work / "base")
    rows = []
    for offset, label in ((0, "html + pdf"), (2, "text + markdown")):
        cp = devset.with_dev_documents(base, work / f"dev-{offset}", articles, offset=offset)
        cp.answer("warm-up")
        metrics, _ = devset.evaluate_dev(cp, devset.split(articles, "report"), label=f"ours ({label})")
        rows.append(metrics)
    return rows


def baseline(articles: list[dict], work: Path) -> dict:
    from baseline import Baseline

    folder = work / "baseline-docs"
    folder.mkdir(parents=True, exist_ok=True)
    for a in articles:
        (folder / f"{devset.slug(a['title'])}.md").write_bytes(devset.as_text(a))  # read as plain text
    b = Baseline(work / "baseline")
    b.ingest(folder)
    judgements = []
    for a in devset.split(articles, "report"):
        for q in a["questions"]:
            t0 = time.perf_counter()
            docs = b.search(q["question"])
            ms = (time.perf_counter() - t0) * 1000
            text = " ".join(" ".join(d.page_content.split()) for d in docs)
            j = devset.SpanJudgement(q["id"], q["question"], True, False, ms=ms, answer=text,
                                     words=devset.answer_words(text))
            j.in_answer = j.in_cited = j.retrieved = devset.holds_span(text, q["answers"])
            j.in_first = devset.holds_span(devset.first_sentence(text), q["answers"])
            judgements.append(j)
    return devset.summarise(judgements, "textbook pipeline (top-4 chunks)")


def html_extraction(articles: list[dict]) -> list[dict]:
    from copilot.documents import html_main_markdown, html_to_sections, split_markdown

    def words(text: str) -> list[str]:
        return devset.normalise_answer(text).split()

    clutter_words = set(words("Encyclopedia of Everything Main page Contents Random article About Donate Search "
                              "Related article Tools Printable version Cite this page Home Places Share on X "
                              "Facebook Edit this page View history Terms of use Privacy cookies Accept all "
                              "Creative Commons Attribution ShareAlike License contributors"))
    out = []
    for name, extract in (("hand-written parser", lambda h: " ".join(s.text for s in html_to_sections(h)[1])),
                          ("trafilatura", lambda h: " ".join(s.text for s in split_markdown(html_main_markdown(h)[0])[1]))):
        recall, clutter, ms = [], [], []
        for a in articles:
            page = devset.as_html(a).decode("utf-8")
            t0 = time.perf_counter()
            text = extract(page)
            ms.append((time.perf_counter() - t0) * 1000)
            got = words(text)
            want = set(words(" ".join(a["paragraphs"])))
            recall.append(len(set(got) & want) / len(want))
            clutter.append(sum(w in clutter_words and w not in want for w in got) / max(1, len(got)))
        out.append({"extractor": name, "article_word_recall": round(statistics.mean(recall), 4),
                    "clutter_share": round(statistics.mean(clutter), 4), "ms_per_page": round(statistics.mean(ms), 1)})
    return out


def sentence_splitting(articles: list[dict]) -> dict:
    from copilot.text import split_sentences

    text = "\n\n".join(p for a in articles for p in a["paragraphs"])
    t0 = time.perf_counter()
    mine = split_sentences(text)
    ours_ms = (time.perf_counter() - t0) * 1000
    out = {"ours": {"sentences": len(mine), "ms": round(ours_ms, 1)}}
    try:
        import pysbd
    except ImportError:
        out["pysbd"] = "not installed (pip install pysbd)"
        return out
    seg = pysbd.Segmenter(language="en", clean=False)
    t0 = time.perf_counter()
    theirs = [s.strip() for p in text.split("\n\n") for s in seg.segment(p) if s.strip()]
    pysbd_ms = (time.perf_counter() - t0) * 1000
    agree = len(set(mine) & set(theirs))
    out["pysbd"] = {"sentences": len(theirs), "ms": round(pysbd_ms, 1), "identical_sentences": agree,
                    "speed_ratio_ours_vs_pysbd": round(pysbd_ms / max(ours_ms, 1e-6), 1)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", help="a built index to copy (default: build one from corpus/)")
    ap.add_argument("--dev-set", help="development set file (default: benchmarks/data/squad-dev-3-articles.json)")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    articles = devset.load(args.dev_set)
    with tempfile.TemporaryDirectory(prefix="cx-devset-") as tmp:
        work = Path(tmp)
        rows = ours(Path(args.index_dir) if args.index_dir else None, articles, work)
        rows.append(baseline(articles, work))
    result = {"attribution": devset.ATTRIBUTION, "split": "report", "answers": rows,
              "html_extraction": html_extraction(articles), "sentence_splitting": sentence_splitting(articles)}
    print(devset.format_rows(rows))
    print(json.dumps({k: result[k] for k in ("html_extraction", "sentence_splitting")}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
