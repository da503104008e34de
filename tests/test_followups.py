"""Follow-up questions become standalone questions before retrieval."""

from copilot.answer import Topics, condense, is_follow_up

TOPICS = Topics.from_titles(["Net Promoter Score (NPS)", "Customer Effort Score (CES)", "Customer churn rate",
                             "Customer journey mapping", "Customer Satisfaction Score (CSAT)",
                             "Average handle time (AHT)", "Customer lifetime value (CLV)"],
                            ["nps", "ces", "csat", "aht", "clv"])


def h(*turns):
    out = []
    for q in turns:
        out += [("user", q), ("assistant", "An answer [1].")]
    return out


def test_a_pronoun_is_replaced_by_the_topic():
    assert condense("and how do I calculate it?", h("What is NPS?"), TOPICS) == "and how do I calculate NPS?"
    assert condense("What are its limits?", h("What is NPS?"), TOPICS) == "What are NPS's limits?"
    assert condense("How often should we send it?", h("What is the customer effort score?"), TOPICS) == \
        "How often should we send customer effort score?"


def test_a_bare_aspect_borrows_the_topic():
    assert condense("What is the formula?", h("What is average handle time?"), TOPICS) == \
        "What is the formula? (average handle time)"


def test_a_sibling_topic_asks_the_previous_question_again():
    assert condense("and for churn?", h("How is NPS calculated?"), TOPICS) == "How is churn calculated?"
    assert condense("What about CES?", h("What is a good NPS score?"), TOPICS) == "What is a good CES?"
    assert condense("and CSAT?", h("How is the customer effort score calculated?"), TOPICS) == \
        "How is the CSAT calculated?"


def test_we_and_our_without_a_topic_lean_on_the_conversation():
    assert is_follow_up("How do we improve our score?", TOPICS)
    assert condense("How do we improve our score?", h("What is CSAT?"), TOPICS) == \
        "How do we improve our score? (CSAT)"
    # "we" in a question that names its own topic is not a follow-up
    assert not is_follow_up("How do we calculate CLV?", TOPICS)
    assert condense("How do we calculate CLV?", h("What is CSAT?"), TOPICS) == "How do we calculate CLV?"


def test_a_bare_word_or_two_without_a_topic_is_a_follow_up():
    assert condense("any downsides?", h("What is CSAT?"), TOPICS) == "any downsides? (CSAT)"
    assert condense("strengths?", h("What is the customer effort score?"), TOPICS) == \
        "strengths? (customer effort score)"
    assert not is_follow_up("What is NPS?", TOPICS) and not is_follow_up("churn?", TOPICS)


def test_a_standalone_question_stays_as_it_is():
    assert condense("What is a journey map?", h("What is NPS?"), TOPICS) == "What is a journey map?"
    assert condense("and how do I calculate it?", [], TOPICS) == "and how do I calculate it?"
    assert not is_follow_up("What is NPS?") and is_follow_up("Why?") and is_follow_up("What is it?")


def test_a_chain_of_follow_ups_keeps_the_first_topic():
    history = h("What is customer lifetime value?", "How is it calculated?")
    assert "customer lifetime value" in condense("And what is a good value for it?", history, TOPICS).lower()


def test_without_an_index_vocabulary_the_content_words_are_the_subject():
    assert condense("and how do I calculate it?", h("What is NPS?")) == "and how do I calculate NPS?"
    assert condense("and the scale?", h("What is NPS?")) == "and the scale? (NPS)"


def test_a_word_between_a_determiner_and_the_topic_modifies_it():
    loops = Topics.from_titles(["Closing the feedback loop", "Net Promoter Score (NPS)"], ["nps"])
    history = h("What is the inner loop?")
    assert condense("who owns it?", history, loops) == "who owns the inner loop?"
    # the modified topic survives the next turn, and a sibling replaces all of it
    assert condense("and the outer loop?", h("What is the inner loop?", "who owns it?"), loops) == \
        "who owns the outer loop?"
    # question words are not modifiers: "a good NPS" is still about NPS
    assert condense("and how is it calculated?", h("What is a good NPS?"), loops) == "and how is NPS calculated?"


def test_a_demonstrative_with_the_previous_questions_noun_takes_its_whole_noun_phrase():
    assert condense("what's the very first link in that chain?", h("what's the service-profit chain?"), TOPICS) == \
        "what's the very first link in the service-profit chain?"
    assert condense("what does that formula assume?", h("what's the CLV formula that uses a discount rate?"),
                    TOPICS) == "what does the CLV formula assume?"
    # a noun the previous question did not use is left to the other rules
    assert condense("what are the pitfalls of doing it that way?", h("How is NPS calculated?"), TOPICS) == \
        "what are the pitfalls of doing NPS that way?"


def test_a_clitic_does_not_make_a_question_word_part_of_the_subject():
    assert condense("and the scale?", h("what's the service-profit chain?")) == \
        "and the scale? (service-profit chain)"
