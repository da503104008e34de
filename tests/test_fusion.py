from copilot.retrieval import diversify, expand_acronyms, find_acronyms, fuse_rrf, fuse_weighted, saturate


def test_weighted_fusion_combines_both_views():
    fused = fuse_weighted({"a": 0.8, "b": 0.6}, {"b": 0.9, "c": 0.5}, dense_weight=0.5)
    assert fused == {"a": 0.4, "b": 0.75, "c": 0.25}
    assert max(fused, key=fused.get) == "b"  # strong in both beats strong in one


def test_weighted_fusion_weight_one_is_dense_only():
    fused = fuse_weighted({"a": 0.8}, {"b": 1.0}, dense_weight=1.0)
    assert fused["a"] == 0.8 and fused["b"] == 0.0


def test_rrf_rewards_agreement():
    fused = fuse_rrf([["a", "b", "c"], ["b", "c", "a"]], k=60)
    assert sorted(fused, key=fused.get, reverse=True)[0] == "b"
    assert abs(fused["a"] - (1 / 61 + 1 / 63)) < 1e-12


def test_saturation_maps_bm25_into_unit_interval():
    assert saturate(0.0, 8) == 0.0
    assert 0 < saturate(8.0, 8) == 0.5 < saturate(100.0, 8) < 1


def test_diversify_prefers_a_second_source_over_a_slightly_better_duplicate():
    ranked = [("a1", 1.0, "a.md"), ("a2", 0.95, "a.md"), ("b1", 0.9, "b.md")]
    assert [i for i, _ in diversify(ranked, 2, decay=0.8)] == ["a1", "b1"]
    assert [i for i, _ in diversify(ranked, 2, decay=1.0)] == ["a1", "a2"]


def test_acronyms_are_found_and_expanded():
    acr = find_acronyms(["First contact resolution (FCR) is a metric.", "The Net Promoter Score (NPS) asks one question.",
                         "Certified Customer Experience Professional (CCXP) is a credential."])
    assert acr["fcr"] == "First contact resolution"
    assert acr["nps"] == "Net Promoter Score"
    assert acr["ccxp"] == "Certified Customer Experience Professional"
    assert expand_acronyms("What is FCR?", acr) == "What is FCR (First contact resolution)?"
    assert expand_acronyms("What is first contact resolution (FCR)?", acr) == "What is first contact resolution (FCR)?"
    assert expand_acronyms("When should I use Net Promoter Score?", acr) == "When should I use Net Promoter Score? (NPS)"


def test_sources_are_named_by_the_words_few_titles_share():
    from copilot.retrieval import named_sources, source_names

    names = source_names({"northwind-returns.html": "Northwind Outfitters returns and exchanges",
                          "nps.md": "Net Promoter Score (NPS)", "ces.md": "Customer Effort Score (CES)",
                          "csat.md": "Customer Satisfaction Score (CSAT)"})
    assert "score" not in names["nps.md"] and {"nps", "promot"} <= names["nps.md"]  # three titles say "score"
    assert "northwind" in names["northwind-returns.html"]
    named = named_sources("According to the Northwind returns policy, how long do refunds take?", names,
                          lambda t: 1.0)
    assert set(named) == {"northwind-returns.html"} and 0.5 <= named["northwind-returns.html"] <= 1.0
    assert named_sources("How long do refunds take?", names, lambda t: 1.0) == {}


def test_a_named_document_is_not_drowned_by_the_rest_of_the_index(fake_copilot, tmp_path):
    from dataclasses import replace

    doc = tmp_path / "acme-playbook.md"
    doc.write_text("# Acme service playbook\n\n## Maps\n\nTeams review every customer journey map each quarter.\n")
    fake_copilot.ingest([doc])
    retriever = fake_copilot.retriever
    question = "What does the Acme playbook say about a customer journey map?"
    narrow = replace(retriever.settings, candidates=1, top_k=3)  # each retriever proposes one passage only
    named = {h.source: h.score for h in retriever.search(question, narrow)}
    unnamed = {h.source: h.score for h in retriever.search(question, replace(narrow, source_weight=0.0))}
    assert "acme-playbook.md" in named  # the named document always competes with its best passages ...
    assert named["acme-playbook.md"] > unnamed.get("acme-playbook.md", 0.0)  # ... and is favoured
    assert named["acme-playbook.md"] == max(named.values())
