import pytest

from copilot.text import clean_markdown, sentence_units, split_sentences, stem, terms


def test_sentences_split_on_terminal_punctuation_but_not_abbreviations():
    text = "CX covers every interaction, e.g. billing and service. NPS vs. CSAT is a common debate! Is it?"
    assert split_sentences(text) == [
        "CX covers every interaction, e.g. billing and service.",
        "NPS vs. CSAT is a common debate!",
        "Is it?",
    ]


def test_word_ending_like_an_abbreviation_still_ends_a_sentence():
    assert split_sentences("The map covers the relationship. CX includes billing.") == [
        "The map covers the relationship.", "CX includes billing."]


def test_list_items_are_units_of_their_own():
    units = sentence_units("The three groups are:\n\n- Promoters score 9 or 10.\n- Detractors score 0 to 6.\n\nDone.")
    assert units == [("The three groups are:", False), ("Promoters score 9 or 10.", True),
                     ("Detractors score 0 to 6.", True), ("Done.", False)]


def test_terms_drop_stopwords_and_stem_plurals():
    assert terms("What are the promoters and detractors?") == [stem("promoter"), "detractor"]
    assert stem("journeys") == "journey" and stem("nps") == "nps"
    assert stem("calculated") == stem("calculate") == stem("calculating")
    assert stem("measure") == stem("measured")
    assert stem("organisation") == stem("organization") and stem("behaviour") == stem("behavior")
    assert stem("prioritising") == stem("prioritizing") and stem("centre") == stem("center")
    assert terms("CX is customer-centric") == ["cx", stem("customer"), "centric"]


def test_markdown_inline_formatting_is_removed():
    assert clean_markdown("**NPS** is [explained here](http://x.y) with `code` and _emphasis_.") == \
        "NPS is explained here with code and emphasis."


def test_aspects_fold_superlatives_irregular_verbs_and_evidence_words():
    from copilot.text import aspect_terms

    assert aspect_terms("the simplest formula") >= aspect_terms("a simple formula")
    assert aspect_terms("customers spent more") == aspect_terms("customers spend more")
    assert aspect_terms("a study found") & aspect_terms("is there evidence")
    assert aspect_terms("interest") != aspect_terms("inter")  # only listed words fold, not every -est
    assert aspect_terms("how do I work out AHT?") == aspect_terms("how do I calculate AHT?")


@pytest.mark.parametrize("asked", ["any downsides?", "what goes wrong with it?", "what are its weaknesses?",
                                   "drawbacks", "the main disadvantages", "common pitfalls", "its shortcomings",
                                   "what are the cons?"])
def test_words_for_weak_points_fold_into_limits(asked):
    from copilot.text import aspect_terms

    assert aspect_terms(asked) & aspect_terms("What are the limits of CSAT?") == {"limit"}
    assert "limit" not in aspect_terms("What are the strengths of CSAT?")


@pytest.mark.parametrize("asked", ["what are the benefits?", "any advantages?", "its pros", "the upsides"])
def test_words_for_strong_points_fold_into_strengths(asked):
    from copilot.text import aspect_terms

    assert aspect_terms(asked) & aspect_terms("What are the strengths of CSAT?") == {"strength"}
    assert "strength" not in aspect_terms("What are the limits of CSAT?")


def test_weak_and_wrong_alone_are_not_limits():
    from copilot.text import aspect_terms

    assert "limit" not in aspect_terms("a weak correlation with churn") | aspect_terms("the wrong size was sent")
