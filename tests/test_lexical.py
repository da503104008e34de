"""BM25 assembled from per-load term counts scores exactly as bm25s' own indexing does, whether built at once,
from parts, or from cache files."""

from __future__ import annotations

import random

import numpy as np

from copilot.lexical import K1, B, LexicalIndex, LoadTokens
from copilot.text import terms


def _texts(n: int, seed: int = 3) -> list[str]:
    words = ("customer effort score promoters detractors churn retention journey map touchpoint survey loyalty "
             "NPS CSAT CES FCR handle time agent callback refund complaint").split()
    rng = random.Random(seed)
    return [" ".join(rng.choices(words, k=rng.randint(3, 40))) for _ in range(n)] + [""]


def _reference(texts: list[str]):
    import bm25s

    ref = bm25s.BM25(k1=K1, b=B)
    ref.index([terms(t) or [""] for t in texts], show_progress=False)
    return ref


def test_scores_match_bm25s_indexing():
    texts = _texts(300)
    ours = LexicalIndex.build([f"c{i}" for i in range(len(texts))], texts)
    ref = _reference(texts)
    for query in ("What is the customer effort score?", "NPS promoters and detractors", "refund callback", "CSAT"):
        q = [t for t in terms(query) if t in ref.vocab_dict]
        assert np.allclose(ours.scores(query), ref.get_scores(q), rtol=1e-5, atol=1e-6)
    assert ours.scores("zebra xylophone") is None
    df = {t: sum(t in set(terms(x)) for x in texts) for t in ("churn", "nps")}
    n = len(texts)
    assert abs(ours.idf("churn") - np.log(1 + (n - df["churn"] + 0.5) / (df["churn"] + 0.5))) < 1e-9


def test_parts_and_cache_files_give_the_same_index(tmp_path):
    texts = _texts(240, seed=9)
    ids = [f"c{i}" for i in range(len(texts))]
    whole = LexicalIndex.build(ids, texts)
    parts = {f"load{k}": LoadTokens.from_chunks(ids[k * 60:(k + 1) * 60], texts[k * 60:(k + 1) * 60],
                                                {f"a{k}": f"acronym {k}"}) for k in range(4)}
    parts["load4"] = LoadTokens.from_chunks(ids[240:], texts[240:])  # the empty text
    LoadTokens.save_many(tmp_path / "cache.npz", parts)
    loaded = LoadTokens.load_many(tmp_path / "cache.npz")
    assert set(loaded) == set(parts) and LoadTokens.keys_in(tmp_path / "cache.npz") == set(parts)
    for source in (parts, loaded):
        merged = LoadTokens.concat([source[k] for k in sorted(source)])
        assert merged.ids == ids and merged.acronyms == {f"a{k}": f"acronym {k}" for k in range(4)}
        rebuilt = merged.to_lexical()
        for query in ("customer journey map", "agent handle time", "FCR"):
            assert np.allclose(rebuilt.scores(query), whole.scores(query), rtol=1e-5, atol=1e-6)
