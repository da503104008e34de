"""One settings object for the extractive pipeline. Length limits are product choices; the selection
thresholds come from the fitted weights file, and `as_dict()` is recorded with every evaluation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .scorer import Weights, load_weights


@dataclass(frozen=True)
class AnswerSettings:
    passages_read: int = 5  # passages whose sentences are candidates
    max_words: int = 60  # an answer's prose budget
    list_words: int = 130  # a list (the one the question asks for, or one in a section answer) may run this long
    max_sentences: int = 3  # the opening and close prose sentences (a list counts as one)
    redundancy: float = 0.6  # a sentence sharing this share of terms with a chosen one repeats it
    context_ratio: float = 0.5  # fitted: a further sentence needs this share of the best sentence's score ...
    context_min: float = 0.2  # fitted: ... and at least this score
    section_threshold: float = 0.3  # fitted: a section heading covering this share of the question answers it
    section_words: int = 130  # fitted: how much of such a section the answer may give
    restated: float = 0.85  # a sentence this close (cosine) to one already shown or chosen says it again
    next_ratio: float = 1.01  # fitted: the opening sentence's next sentence scoring this share of it follows
    second_ratio: float = 1.01  # fitted: another passage's best sentence scoring this share of the best follows
    second_ahead: bool = True  # ... only from a passage retrieved ahead of the opening sentence's (product choice)
    gain_min: float = 1.01  # fitted: a sentence covering this much of the question left uncovered is added
    weights_file: str | None = None  # fitted weights (None: the package's weights.json)

    @classmethod
    def fitted(cls, weights_file: str | None = None, **overrides) -> AnswerSettings:
        """The defaults with the selection values the fit chose."""
        w = load_weights(weights_file)
        known = {k: v for k, v in w.select.items() if k in cls.__dataclass_fields__}
        return replace(cls(weights_file=weights_file), **{**known, **overrides})

    def weights(self) -> Weights:
        return load_weights(self.weights_file)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["fitted_on"] = self.weights().fitted_on
        return out
