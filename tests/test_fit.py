"""The fit script's sentence-scorer objectives, on synthetic questions (no index, no model)."""

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fit_answer  # noqa: E402


def _questions(n: int, seed: int) -> list:
    """Each question: 6 candidate sentences; the answer is the one with the highest `signal` *within* the
    question, while each question's signal level and its `level` feature move all its sentences together.
    `level` also tracks how many answers a question has, so it predicts positives across questions but
    never says which sentence of a question answers it."""
    rng = np.random.default_rng(seed)
    out = []
    for q in range(n):
        answers = int(rng.integers(1, 3))
        shift = rng.normal(0, 3)
        signal = rng.normal(0, 1, 6) + shift
        labels = np.zeros(6, dtype=bool)
        labels[np.argsort(-signal)[:answers]] = True
        level = np.full(6, answers + rng.normal(0, 0.1))
        x = np.column_stack([signal, level, rng.normal(0, 1, 6)])
        out.append(fit_answer.Item(f"dev:{seed}-{q}", "dev", True, None, labels, None, x))
    return out


NAMES = ["signal", "level", "noise"]


def test_the_listwise_scorer_ranks_within_each_question_and_ignores_what_only_separates_questions():
    train = _questions(80, 1) + [fit_answer.Item("dev:none", "dev", True, None, np.zeros(6, dtype=bool), None,
                                                 np.ones((6, 3)))]  # a question with no answer carries nothing
    model = fit_answer.fit_listwise(train, NAMES, c=1.0, golden_weight=1.0)
    test = _questions(40, 2)
    top = [it.labels[int(np.argmax(model.decision(it.x)))] for it in test]
    assert np.mean(top) >= 0.9  # (random "noise" still takes a little weight from 80 questions)
    coef = dict(zip(NAMES, model.coef))
    assert coef["signal"] > 0
    assert abs(coef["level"]) < 0.05 * coef["signal"]  # constant within a question: no gradient, only the penalty
    # calibrated: a probability whose mean on the training sentences is their share of answers
    p = np.concatenate([model.probability(it.x) for it in train[:-1]])
    y = np.concatenate([it.labels for it in train[:-1]])
    assert 0 < p.min() and p.max() < 1 and p[y].mean() > p[~y].mean()
    assert abs(p.mean() - y.mean()) < 0.02


def test_golden_questions_weigh_more_in_the_listwise_loss_when_asked():
    # the two kinds disagree on which feature marks the answer: the golden weight decides whose ranking wins
    dev, gold = _questions(40, 3), _questions(40, 4)
    for it in gold:
        it.kind = "golden"
        it.labels = np.zeros(6, dtype=bool)
        it.labels[int(np.argmax(it.x[:, 2]))] = True  # here the answer is where "noise" is highest
    light = dict(zip(NAMES, fit_answer.fit_listwise(dev + gold, NAMES, 1.0, golden_weight=1.0).coef))
    heavy = dict(zip(NAMES, fit_answer.fit_listwise(dev + gold, NAMES, 1.0, golden_weight=8.0).coef))
    assert heavy["noise"] / heavy["signal"] > 2 * light["noise"] / light["signal"]


def test_the_pointwise_objective_spends_weight_on_what_separates_questions():
    items = _questions(80, 6)
    point = dict(zip(NAMES, fit_answer.fit_sentence(items, NAMES, 1.0, 1.0, "pointwise").coef))
    rank = dict(zip(NAMES, fit_answer.fit_sentence(items, NAMES, 1.0, 1.0, "listwise").coef))
    assert point["level"] > 0.2 * abs(point["signal"])  # questions with more answers score higher throughout
    assert abs(rank["level"]) < 0.05 * rank["signal"]


def test_golden_weights_option_reads_positive_numbers_and_names_a_bad_value():
    assert fit_answer.weight_list("1,2, 4") == [1.0, 2.0, 4.0]
    for bad in ("", "a,2", "0", "1,-2"):
        with pytest.raises(argparse.ArgumentTypeError, match="positive numbers"):
            fit_answer.weight_list(bad)


def test_feature_trial_names_an_unknown_feature_or_a_missing_items_file(tmp_path, monkeypatch, capsys):
    import feature_trial

    monkeypatch.setattr(sys, "argv", ["feature_trial.py", "--items", str(tmp_path / "x.pkl"), "--add", "nope"])
    with pytest.raises(SystemExit):
        feature_trial.main()
    assert "unknown trial feature nope" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["feature_trial.py", "--items", str(tmp_path / "x.pkl")])
    with pytest.raises(SystemExit):
        feature_trial.main()
    assert "x.pkl does not exist" in capsys.readouterr().err


def test_corpus_questions_written_for_training_weigh_like_the_golden_ones():
    items = _questions(3, 7)
    items[1].kind, items[2].kind = "golden", "corpus"
    _, _, w = fit_answer.sentence_rows(items, golden_weight=4.0)
    assert w.tolist() == [1.0] * 6 + [4.0] * 12


def test_corpus_training_questions_hold_facts_of_their_sources_and_none_is_an_evaluation_question():
    from copilot.evaluation import golden_files, load_jsonl, normalise

    root = Path(__file__).resolve().parents[1]
    train = load_jsonl(fit_answer.CORPUS_TRAIN)
    assert len(train) >= 100
    assert len({it["id"] for it in train}) == len(train)
    for it in train:
        body = " ".join(normalise((root / "corpus" / s).read_text(encoding="utf-8")) for s in it["sources"])
        for fact in it["facts"]:
            options = [fact] if isinstance(fact, str) else fact
            assert any(normalise(o) in body for o in options), (it["id"], fact)
    asked = lambda it: normalise(it["turns"][-1] if "turns" in it else it["question"])  # noqa: E731
    evaluation = [it for items in golden_files().values() for it in items]
    evaluation += load_jsonl(root / "benchmarks" / "heldout.jsonl") + load_jsonl(root / "benchmarks" / "followups-heldout.jsonl")
    held = {asked(it) for it in evaluation if "question" in it or "turns" in it}
    assert not [it["id"] for it in train if "turns" not in it and asked(it) in held]
