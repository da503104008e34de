"""How long `cx-copilot metrics` and the Metrics tab take on 100,000 survey responses, charts included.

Baseline, in the same run: a bare `python -c "import pandas; pandas.read_csv(FILE)"`, the least any
pandas-based command pays for the same file (interpreter start, pandas import, parsing). Figures are medians of
--repeat runs: wall time and CPU time (user + system) of each command, and the tab's handler in the server's
process (reading the upload, the analysis, the three charts as PNG, as Gradio encodes them for the page).

    .venv/bin/python benchmarks/metrics_speed.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "copilot.cli"]


def make_responses(path: Path, rows: int, seed: int = 12) -> None:
    rng = np.random.default_rng(seed)
    region = rng.choice(["North", "South", "East", "West"], rows, p=[0.4, 0.3, 0.2, 0.1])
    happy = np.select([region == "North", region == "South"], [0.55, 0.42], 0.5)
    u = rng.random(rows)
    score = np.where(u < happy, rng.integers(9, 11, rows),
                     np.where(u < happy + 0.3, rng.integers(7, 9, rows), rng.integers(0, 7, rows)))
    dates = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "region": region, "score": score,
                  "comment": rng.choice(["quick and friendly", "slow delivery", "", "great app"], rows)}
                 ).to_csv(path, index=False)


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a command run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
                   env={**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_of(fn, repeat: int) -> tuple[float, float]:
    runs = [fn() for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def tab_once(path: Path) -> tuple[float, float]:
    import gradio as gr

    from copilot.ui.metrics import open_survey

    plot = gr.Plot(format="png")
    c0, t0 = time.process_time(), time.perf_counter()
    summary, *_, dist, trend, seg = open_survey(str(path))
    images = [plot.postprocess(fig) for fig in (dist, trend, seg) if fig is not None]
    assert "cx-metric-score" in summary and len(images) == 3
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--output", help="write the figures as JSON here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cx-metrics-bench-") as tmp:
        path = Path(tmp) / "responses.csv"
        make_responses(path, args.rows)
        size = path.stat().st_size
        charts = Path(tmp) / "charts"
        baseline = median_of(lambda: timed([sys.executable, "-c", f"import pandas; pandas.read_csv({str(path)!r})"]),
                             args.repeat)
        trend = median_of(lambda: timed(CLI + ["metrics", str(path), "--metric", "nps", "--column", "score", "--by",
                                               "month", "--charts", str(charts)]), args.repeat)
        segments = median_of(lambda: timed(CLI + ["metrics", str(path), "--by", "region", "--charts", str(charts)]),
                             args.repeat)
        cold = tab_once(path)  # the first upload after the server starts: imports pandas and matplotlib
        warm = median_of(lambda: tab_once(path), args.repeat)
    rows = [("baseline: python -c 'import pandas; read_csv'", baseline),
            ("cx-copilot metrics --by month --charts", trend),
            ("cx-copilot metrics --by region --charts", segments),
            ("Metrics tab upload (first after start)", cold),
            ("Metrics tab upload", warm)]
    print(f"{args.rows:,} responses ({size / 1e6:.1f} MB), median of {args.repeat} runs, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':48} {'wall s':>7} {'CPU s':>7} {'wall / baseline':>16}")
    for name, (wall, cpu) in rows:
        print(f"{name:48} {wall:7.2f} {cpu:7.2f} {wall / baseline[0]:15.2f}x")
    if args.output:
        figures = {name: {"wall_s": round(w, 3), "cpu_s": round(c, 3), "ratio": round(w / baseline[0], 2)}
                   for name, (w, c) in rows}
        Path(args.output).write_text(json.dumps({"rows": args.rows, "bytes": size, "repeat": args.repeat,
                                                 "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 1),
                                                 "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
