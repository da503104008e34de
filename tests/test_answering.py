import re

from copilot.answering import (ExtractiveAnswerer, Passage, compose, condense, decline_text, is_follow_up,
                               normalise_history, with_marker)


def _p(i, text, section="", source=None):
    return Passage(f"id{i}", text, source or f"doc{i}.md", f"Doc {i}", section, None, 1.0 - i / 10)


def test_markers_are_numbered_in_order_of_appearance():
    passages = [_p(0, "A."), _p(1, "B."), _p(2, "C.")]
    text, cites = compose([("From two.", 2), ("From zero.", 0), ("Again two.", 2)], passages)
    assert text == "From two [1]. From zero [2]. Again two [1]."
    assert [(c.n, c.source) for c in cites] == [(1, "doc2.md"), (2, "doc0.md")]
    assert cites[0].sentences == ["From two.", "Again two."]


def test_marker_placement():
    assert with_marker("NPS ranges from -100 to +100.", 3) == "NPS ranges from -100 to +100 [3]."
    assert with_marker('It asks "how likely?"', 1) == 'It asks "how likely?" [1]'
    assert with_marker("No period", 2) == "No period [2]"


def test_extractive_answer_cites_every_sentence_and_reads_as_an_answer():
    passages = [
        _p(0, "NPS is calculated by subtracting the percentage of detractors from the percentage of promoters. "
              "The result ranges from -100 to +100. Many firms report NPS quarterly to their boards.",
           "How is NPS calculated?", "nps.md"),
        _p(1, "Journey maps show the stages of a customer's experience.", "What is a journey map?", "journey.md"),
    ]
    a = ExtractiveAnswerer().answer("How is NPS calculated?", passages)
    assert not a.abstained
    assert a.text.startswith("NPS is calculated by subtracting the percentage of detractors")
    sentences = re.split(r"(?<=\.)\s+", a.text)
    assert all(re.search(r"\[\d+\]\.?$", s) for s in sentences)  # every sentence carries its marker
    assert [c.source for c in a.citations] == ["nps.md"]  # the unrelated passage is not cited
    assert "Journey" not in a.text


def test_a_list_introduced_by_the_answer_is_kept_whole():
    text = ("NPS sorts respondents into three groups by their answer.\n\n- Promoters answer 9 or 10.\n"
            "- Passives answer 7 or 8.\n- Detractors answer 0 to 6.\n\nThe grouping is strict.")
    a = ExtractiveAnswerer().answer("Which scores count as promoters and detractors?", [_p(0, text, "Groups")])
    for fact in ("9 or 10", "7 or 8", "0 to 6"):
        assert fact in a.text


def test_second_passage_adds_only_what_the_first_does_not_cover():
    passages = [_p(0, "CSAT measures satisfaction with one interaction on a 1 to 5 scale.", "What is CSAT?"),
                _p(1, "CES measures the effort a customer spent to get an issue resolved.", "What is CES?")]
    a = ExtractiveAnswerer().answer("What is the difference between CSAT and CES?", passages)
    assert [c.n for c in a.citations] == [1, 2]
    assert "CSAT measures" in a.text and "CES measures" in a.text


def test_follow_up_detection():
    assert is_follow_up("and how do I calculate it?")
    assert is_follow_up("What about its limits?")
    assert not is_follow_up("How is customer effort score calculated?")


def test_condense_uses_the_earlier_user_turn_only_for_follow_ups():
    history = [("user", "What is NPS?"), ("assistant", "NPS is a loyalty metric [1].")]
    assert condense("and how do I calculate it?", history) == "and how do I calculate NPS?"
    assert condense("What are its limits?", history) == "What are NPS's limits?"
    assert condense("and the scale?", history) == "and the scale? (NPS)"
    assert condense("What is a journey map?", history) == "What is a journey map?"
    assert condense("and how do I calculate it?", []) == "and how do I calculate it?"


def test_history_accepts_message_dicts():
    hist = [{"role": "user", "content": "What is CES?"}, {"role": "assistant", "content": "CES is..."}]
    assert normalise_history(hist) == [("user", "What is CES?"), ("assistant", "CES is...")]
    assert condense("What scale does it use?", hist) == "What scale does CES use?"


def test_decline_text_suggests_topics():
    text = decline_text("capital of France?", ["Net Promoter Score (NPS)", "Journey Mapping"])
    assert text.startswith("I can't answer that from the knowledge base")
    assert "Net Promoter Score (NPS) or Journey Mapping" in text


def test_comparison_questions_are_recognised():
    from copilot.answering import comparison_sides

    assert comparison_sides("What's the difference between X-data and O-data?") == ("X-data", "O-data")
    assert comparison_sides("How is CX different from UX?") == ("CX", "UX")
    assert comparison_sides("NPS vs CSAT") == ("NPS", "CSAT")
    assert comparison_sides("X-data vs O-data - what's the difference?") == ("X-data", "O-data")
    assert comparison_sides("CES vs CSAT: which should I use?") == ("CES", "CSAT")
    assert comparison_sides("How is NPS calculated?") is None
    assert comparison_sides("What goes in each quadrant of an impact vs effort matrix?") is None


def test_a_comparison_answer_defines_each_side_and_cites_both():
    passages = [
        _p(0, "CSAT measures satisfaction with one interaction. CSAT uses a 1 to 5 scale.", "What is CSAT?", "csat.md"),
        _p(1, "NPS measures loyalty with a 0 to 10 recommend question. NPS is tracked quarterly.", "What is NPS?", "nps.md"),
        _p(2, "Unlike NPS, CSAT looks at a single moment rather than the relationship.", "CSAT and loyalty", "csat.md"),
    ]
    a = ExtractiveAnswerer().answer("What is the difference between CSAT and NPS?", passages)
    assert a.text.index("CSAT measures satisfaction") < a.text.index("NPS measures loyalty")
    assert "Unlike NPS, CSAT looks at a single moment" in a.text  # the sentence that contrasts them
    assert {c.source for c in a.citations} == {"csat.md", "nps.md"}


def test_a_short_standalone_question_is_not_a_follow_up():
    history = [("user", "What is CES?"), ("assistant", "CES measures effort [1].")]
    assert not is_follow_up("What is NPS?")
    assert condense("What is NPS?", history) == "What is NPS?"
    assert is_follow_up("Why?") and is_follow_up("What is it?")


def test_a_bare_aspect_question_leans_on_the_conversation():
    history = [("user", "What is average handle time?"), ("assistant", "AHT is ... [1].")]
    assert is_follow_up("What is the formula?")
    assert condense("What is the formula?", history) == "What is the formula? (average handle time)"


def test_answer_type_follows_the_question_word():
    from copilot.answering import answer_type

    duration, answered = answer_type("How quickly should teams call back detractors?")
    assert duration.search("within 24 to 48 hours") and not duration.search("in 2003")
    assert answered == {"quick"}  # a duration answers "quickly"
    person, answered = answer_type("Who came up with moments of truth?")
    assert person.search("It was popularized by Jan Carlzon of SAS.") and answered == set()
    assert answer_type("When was NPS introduced?")[0].search("in 2003")
    assert answer_type("What is NPS?") is None
    assert answer_type("Who is responsible for customer experience?") is None  # a role, not a name


def test_a_sentence_giving_the_kind_of_answer_asked_for_wins():
    passages = [
        _p(0, "Frontline teams own the inner loop. They call back detractors and fix local issues.",
           "Who owns the inner loop?", "a.md"),
        _p(1, "Teams should call back detractors within 24 to 48 hours, while the experience is fresh.",
           "Inner loop standards", "b.md"),
    ]
    a = ExtractiveAnswerer().answer("How quickly should teams call back detractors?", passages)
    assert a.text.startswith("Teams should call back detractors within 24 to 48 hours")


def test_acronyms_and_their_long_forms_match_each_other():
    from copilot.answering import acronym_terms, fold_acronyms
    from copilot.text import aspect_terms

    table = acronym_terms({"clv": "customer lifetime value", "cx": "customer experience"})
    assert fold_acronyms(aspect_terms("How is CLV measured?"), table) >= aspect_terms("customer lifetime value")
    assert "clv" in fold_acronyms(aspect_terms("Customer lifetime value is ..."), table)
    passages = [
        _p(0, "Customer lifetime value is the revenue a customer brings over the relationship.",
           "What is customer lifetime value?", "clv.md"),
        _p(1, "The simple formula multiplies average order value, purchase frequency and customer lifespan.",
           "How is CLV calculated?", "clv.md"),
    ]
    question = "How is customer lifetime value calculated?"
    # the heading "How is CLV calculated?" answers the question once CLV is known to be customer lifetime value
    assert ExtractiveAnswerer().answer(question, passages).text.startswith("Customer lifetime value is")
    with_acronyms = ExtractiveAnswerer().answer(question, passages, acronyms={"clv": "customer lifetime value"})
    assert with_acronyms.text.startswith("The simple formula")


def test_a_contrast_that_says_something_of_each_side_beats_one_that_names_the_pair():
    passages = [
        _p(0, "X-data is experience data: feelings and opinions.", "What is X-data?", "x.md"),
        _p(1, "O-data is operational data: transactions and timings.", "What is O-data?", "o.md"),
        _p(2, "X-data and O-data examples often come in pairs.", "Examples of X-data and O-data", "x.md"),
        _p(3, "Each answers half the question: O-data shows what happened, and X-data shows why.",
           "Why combine X-data and O-data?", "x.md"),
    ]
    a = ExtractiveAnswerer().answer("What is the difference between X-data and O-data?", passages)
    assert "O-data shows what happened, and X-data shows why" in a.text
    assert "come in pairs" not in a.text
