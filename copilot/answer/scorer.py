"""Stage 3 of the extractive pipeline: a fitted linear model over the features.

The weights are not typed in: `benchmarks/fit_answer.py` fits them (on a training split of documents written
by others, plus the corpus's golden questions) and writes `weights.json` beside this module. The sentence
scorer may be fitted to rank the sentences of one question; then a second linear model over the same
features, `confidence`, says how likely a sentence answers its question in terms comparable across questions,
which is what abstention needs.
The same file holds the abstention model and the selection settings the fit chose, with a record of what it was
fitted on, so an evaluation can say which weights produced its figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LinearModel:
    """score = intercept + sum(coef * (x - mean) / scale); probability = logistic(score)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    @classmethod
    def from_dict(cls, d: dict) -> LinearModel:
        n = len(d["features"])
        for key in ("mean", "scale", "coef"):
            if len(d[key]) != n:
                raise ValueError(f"weights: '{key}' has {len(d[key])} values for {n} features")
        return cls(tuple(d["features"]), tuple(map(float, d["mean"])), tuple(map(float, d["scale"])),
                   tuple(map(float, d["coef"])), float(d["intercept"]))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept}

    def decision(self, x: np.ndarray) -> np.ndarray:
        """The linear score of each row of `x` (columns in `self.features` order)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef) + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(x)))


@dataclass(frozen=True)
class Weights:
    """Everything the fit script produced: the sentence scorer, the abstention model, the selection settings."""

    sentence: LinearModel
    abstain: LinearModel
    abstain_threshold: float  # decline when the abstention model's probability of "answerable" is below this
    select: dict = field(default_factory=dict)  # fitted selection settings (see AnswerSettings)
    fitted_on: dict = field(default_factory=dict)
    # how likely a sentence answers *its* question, comparable across questions (abstention's evidence), when
    # the sentence scorer only ranks the sentences of one question; None: the sentence scorer's probability
    confidence: LinearModel | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Weights:
        conf = LinearModel.from_dict(d["confidence"]) if d.get("confidence") else None
        return cls(LinearModel.from_dict(d["sentence"]), LinearModel.from_dict(d["abstain"]),
                   float(d["abstain_threshold"]), dict(d.get("select", {})), dict(d.get("fitted_on", {})), conf)

    def to_dict(self) -> dict:
        out = {"sentence": self.sentence.to_dict(), "abstain": self.abstain.to_dict(),
               "abstain_threshold": self.abstain_threshold, "select": self.select, "fitted_on": self.fitted_on}
        if self.confidence is not None:
            out["confidence"] = self.confidence.to_dict()
        return out


WEIGHTS_FILE = "weights.json"


def weights_path() -> Path:
    return Path(str(resources.files(__package__).joinpath(WEIGHTS_FILE)))


@lru_cache(maxsize=4)
def load_weights(path: str | None = None) -> Weights:
    """The fitted weights (package data by default)."""
    text = Path(path).read_text(encoding="utf-8") if path else \
        resources.files(__package__).joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    return Weights.from_dict(json.loads(text))


def save_weights(weights: Weights, path: str | Path | None = None) -> Path:
    target = Path(path) if path else weights_path()
    target.write_text(json.dumps(weights.to_dict(), indent=1) + "\n", encoding="utf-8")
    load_weights.cache_clear()
    return target
