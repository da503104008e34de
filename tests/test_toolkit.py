"""The toolkit in the chat: questions with the user's numbers get a computed, cited answer (copilot/quantities.py,
copilot/calculate.py), missing or contradictory numbers get a question back, and questions about how the sources
define something get one cited row per source (copilot/compare.py). Pure tests plus the small fake copilot; the
real corpus is in test_toolkit_corpus.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from copilot.calculate import Clarify, analyse
from copilot.compare import ask
from copilot.quantities import parse

GOLDEN = Path(__file__).resolve().parent / "golden"
HELDOUT = Path(__file__).resolve().parents[1] / "benchmarks" / "heldout.jsonl"


def results(question: str, previous: str | None = None) -> dict[str, float]:
    a = analyse(question, previous)
    assert a is not None, question
    out = {}
    for metric, outcome in a.outcomes:
        assert not isinstance(outcome, Clarify), (question, outcome.text)
        out.update({r.metric: r.value for r in outcome})
    return out


def clarifying(question: str, previous: str | None = None) -> str:
    a = analyse(question, previous)
    assert a is not None and a.clarifying is not None, question
    return a.clarifying.text


def test_quantities_carry_their_kinds_units_and_labels():
    qs = parse("ARPU $40 a month, 3-year lifetime, 70% margin, hold 1:30, 2k subscribers").quantities
    assert [(q.kind, q.value) for q in qs] == [("money", 40), ("duration", 3 * 365.25 * 86400), ("percent", 70),
                                             ("duration", 90), ("count", 2000)]
    assert qs[0].period == "month" and qs[0].before == ("arpu",) and qs[2].after == ("margin",)
    pair = parse("312 of 400 customers said satisfied").quantities
    assert pair[0].part_of is pair[1] and "satisfied" in pair[0].after
    banded = parse("120 answered 9 or 10, 30 gave 0-6, promoters (9-10): 5").quantities
    assert [(q.value, q.band) for q in banded] == [(120, (9, 10)), (30, (0, 6)), (5, None)]
    assert parse("CES scores: 5, 6, 7 and 4").scores == [5, 6, 7, 4]
    assert parse("5,000 on 1 January and -30 in 2025").quantities[1].value == -30
    assert [q.value for q in parse("5,000 on 1 January and -30 in 2025").quantities] == [5000, -30]


def test_labels_glued_to_numbers_are_no_quantities_and_a_band_after_a_whole_belongs_to_its_part():
    assert [q.value for q in parse("Q3 and FY2025 results, H1 v2: 2.5k responses, $40 and usd 12").quantities] == \
        [2500, 40, 12]
    part, whole = parse("1,140 out of 1,500 respondents gave 4 or 5").quantities
    assert part.part_of is whole and part.band == (4, 5) and whole.band is None


# the issue's seven questions
ISSUE = [
    ("We had 120 promoters, 50 passives and 30 detractors — what's our NPS?", {"nps": 45}),
    ("312 of 400 customers said satisfied or very satisfied: CSAT?", {"csat": 78}),
    ("We started the quarter with 2,000 customers, lost 140 and gained 300: churn and retention?",
     {"churn": 7, "retention": 93}),
    ("ARPU $40 a month, 3-year lifetime, 70% margin: CLV?", {"clv": 1008}),
    ("1,850 of 2,300 contacts resolved first time: FCR?", {"fcr": 100 * 1850 / 2300}),
    ("CES scores: 5, 6, 7, 3, 6, 7 and 4 - what's our CES?", {"ces": 38 / 7}),
    ("Talk time 6 minutes, hold 1:30 and wrap-up 2 min: AHT?", {"aht": 570}),
]
# paraphrases written after the parser was finished and run once, never tuned on
UNTUNED = [
    ("NPS check: promoters = 64, passives = 21, detractors = 15", {"nps": 49}),
    ("Out of 250 people surveyed, 200 ticked satisfied or very satisfied. CSAT?", {"csat": 80}),
    ("Starting base 10,000 users; 600 churned and 900 new signed up this year. What's the churn rate and the "
     "retention rate?", {"churn": 6, "retention": 94}),
    ("Average order $80, 3 purchases a year, 35% gross margin, customers stay 5 years: LTV?", {"clv": 420}),
    ("Of 640 tickets, 512 were fixed at the first contact. What is our first contact resolution?", {"fcr": 80}),
    ("What's the customer effort score for these answers: 6, 7, 7, 5, 3?", {"ces": 5.6}),
    ("AHT please: talk 300 seconds, hold 60 seconds, after-call work 120 seconds", {"aht": 480}),
]
# a second set written later by someone who had not read the parser's cue tables: 24 of 25 computed on the first
# run (the miss: "1,140 out of 1,500 respondents gave 4 or 5", where the band after the whole now goes to the part)
UNTUNED_2 = [
    ("Survey results: 340 promoters, 90 passives, 70 detractors. Net promoter score?", {"nps": 54}),
    ("Can you work out our NPS? 55% promoters, 25% passives, 20% detractors.", {"nps": 35}),
    ("We got 1,000 responses; 420 scored us 9 or 10 and 180 scored 0 to 6. What NPS is that?", {"nps": 24}),
    ("nps for 18 promoters 7 passives 5 detractors", {"nps": 13 / 30 * 100}),
    ("If 600 of our 1,500 respondents are promoters and 300 are detractors, what is the NPS?", {"nps": 20}),
    ("Here are our recommend scores: 10, 9, 8, 6, 10, 7, 3, 9. NPS?", {"nps": 25}),
    ("CSAT for 45 satisfied out of 60 responses?", {"csat": 75}),
    ("We surveyed 800 customers and 620 were happy with the service. What's the satisfaction score?", {"csat": 77.5}),
    ("What is our CSAT if 1,140 out of 1,500 respondents gave 4 or 5?", {"csat": 76}),
    ("Calculate CSAT: 90 positive responses from a total of 120", {"csat": 75}),
    ("We had 500 customers in January and lost 25 during the month. What's the monthly churn rate?", {"churn": 5}),
    ("Churn rate if we began the year with 12,000 accounts and 1,800 cancelled?", {"churn": 15}),
    ("Start of period: 4,000 customers. End of period: 4,200. New customers acquired: 600. Retention rate?",
     {"retention": 90}),
    ("Of 3,000 subscribers at the start of the month, 90 left. Churn?", {"churn": 3}),
    ("What's the customer lifetime value with an ARPU of $25 per month, a 60% gross margin and an average lifespan "
     "of 4 years?", {"clv": 720}),
    ("CLV: average purchase value $120, 2 purchases per year, customer lifespan 5 years, margin 50%", {"clv": 600}),
    ("Customers pay $1,200 a year, stay for 6 years on average, and our margin is 80%. What's the LTV?", {"clv": 5760}),
    ("We handled 5,000 contacts and 3,900 were resolved on the first contact. FCR?", {"fcr": 78}),
    ("What's our first call resolution if 720 out of 900 calls were resolved without a follow-up?", {"fcr": 80}),
    ("FCR: 2,400 tickets total, 1,800 solved first time", {"fcr": 75}),
    ("Customer effort scores from today: 7, 6, 6, 5, 4, 7. What's the CES?", {"ces": 35 / 6}),
    ("Work out the CES from these ratings: 3, 5, 6, 6, 7, 7, 2", {"ces": 36 / 7}),
    ("Average handle time with 4 minutes talk, 45 seconds hold and 1 minute wrap?", {"aht": 345}),
    ("AHT: talk time 5:20, hold time 0:40, after-call work 1:00", {"aht": 420}),
    ("Our agents took 3,000 calls with 15,000 minutes talk time, 1,500 minutes hold and 3,000 minutes wrap-up. "
     "What's the AHT?", {"aht": 390}),
]
# a third set, written after the fix above and run once: 18 of 20 computed on the first run. The two misses were
# general gaps, fixed as such: a number glued to a word ("Q3", "H1", "FY2025") is a label, not a quantity; and
# customers kept from the starting base ("kept 1,710 of 1,800") give retention without end and new counts
UNTUNED_3 = [
    ("hey, quick one - 230 promoters, 40 passives, 130 detractors, whats the nps", {"nps": 25}),
    ("Our Q3 NPS survey: 2.5k responses, 1,200 promoters and 500 detractors. Score?", {"nps": 28}),
    ("Promoters 48 percent, detractors 22 percent - net promoter score please", {"nps": 26}),
    ("I need the NPS: of 80 people, 36 gave a 9 or 10 and 20 gave 6 or lower", {"nps": 20}),
    ("How satisfied are customers if 270 of 360 rated us 4 or 5 stars? CSAT please", {"csat": 75}),
    ("customer satisfaction score with 1,020 satisfied answers out of 1,200", {"csat": 85}),
    ("Compute CSAT. Total responses: 250. Satisfied or very satisfied: 205.", {"csat": 82}),
    ("Our base was 8,000 at the start of the quarter; 320 customers churned. What is the churn rate?", {"churn": 4}),
    ("We kept 1,710 of our 1,800 customers this year. What's our retention rate?", {"retention": 95}),
    ("customers at the beginning 1,000, at the end 1,100, new 250 - retention?", {"retention": 85}),
    ("Attrition: 45 of 900 members cancelled last month. Rate?", {"churn": 5}),
    ("Lifetime value if the average customer spends $60 a month, gross margin is 50% and they stay 2 years?",
     {"clv": 720}),
    ("Calculate CLV: $200 per order, 3 orders a year, 25% margin, 4-year customer lifespan", {"clv": 600}),
    ("Of the 1,600 customer contacts last week, 1,200 were resolved on first contact. What was FCR?", {"fcr": 75}),
    ("first contact resolution: 430 resolved first time from 500 contacts", {"fcr": 86}),
    ("CES for scores 4, 5, 5, 6, 6, 6, 7, 7?", {"ces": 5.75}),
    ("These are our customer effort ratings: 2, 3, 4 and 7. Average CES?", {"ces": 4}),
    ("What's the AHT if talk time averages 7 minutes, hold 2 minutes and after-call work 3 minutes?", {"aht": 720}),
    ("AHT for 200 calls: 1,000 minutes talk, 100 minutes hold, 300 minutes wrap", {"aht": 420}),
    ("handle time: talk 180s, hold 30s, wrap 90s", {"aht": 300}),
]
# paraphrases the parser was developed with
PARAPHRASES = [
    ("Our survey got 120 promoters, 30 detractors and 50 passives. Calculate the net promoter score.", {"nps": 45}),
    ("What is the NPS if 45% are promoters and 20% are detractors?", {"nps": 25}),
    ("120 answered 9 or 10, 50 answered 7 or 8 and 30 gave 0 to 6: what's the score?", {"nps": 45}),
    ("Out of 400 respondents, 312 were satisfied. What's the CSAT score?", {"csat": 78}),
    ("Of our 1,200 survey responses, 930 were 4 or 5 stars. What's the customer satisfaction score?", {"csat": 77.5}),
    ("Customers at start: 2000; customers lost: 140; new customers: 300. What are churn and retention rates?",
     {"churn": 7, "retention": 93}),
    ("We began with 2k subscribers, 140 cancelled, 300 signed up — retention rate?", {"retention": 93}),
    ("We had 5,000 subscribers on 1 January and 4,600 on 31 March, having won 350 new ones. What's our retention "
     "rate?", {"retention": 85}),
    ("Average revenue per user is $40/month, customers stay 3 years, gross margin 70%. Lifetime value?", {"clv": 1008}),
    ("$50 per order, 4 orders a year, 40% margin, 80% retention and 10% discount rate: CLV?", {"clv": 64 / 0.3}),
    ("We resolved 1850 out of the 2300 contacts on the first contact — what's our first contact resolution rate?",
     {"fcr": 100 * 1850 / 2300}),
    ("90 answered 7, 75 answered 6, 45 answered 5, 30 answered 4, 25 answered 3, 20 answered 2 and 15 answered 1: "
     "CES?", {"ces": 1555 / 300}),
    ("AHT for 400 calls with 2,000 minutes of talk, 240 minutes on hold and 560 minutes of after-call work?",
     {"aht": 7 * 60}),
]


@pytest.mark.parametrize("question, expected", ISSUE + UNTUNED + UNTUNED_2 + UNTUNED_3 + PARAPHRASES)
def test_questions_with_numbers_are_computed(question, expected):
    got = results(question)
    assert set(got) == set(expected)
    for metric, value in expected.items():
        assert got[metric] == pytest.approx(value, rel=1e-6), metric


@pytest.mark.parametrize("question, says", [
    ("60% promoters, 30% passives and 20% detractors: NPS?", "110%"),
    ("We had 120 promoters, -30 detractors and 50 passives. NPS?", "can't be negative"),
    ("200 responses: 120 promoters, 50 passives, 40 detractors. What's our NPS?", "don't add up"),
    ("We had 120 promoters and 30 detractors, what's our NPS?", "passives"),
    ("450 of 400 contacts resolved first time: FCR?", "more than the 400"),
    ("We lost 2,500 customers out of 2,000 at the start of the year, churn?", "can't lose more"),
    ("ARPU $40, 3-year lifetime, 70% margin: CLV?", "per month or per year"),
    ("ARPU $40 a month and a 3-year lifetime: CLV?", "gross margin"),
    ("Talk time 6 minutes and wrap-up 2 min: AHT?", "hold time"),
    ("Total talk 1,500 minutes, hold 300 minutes, wrap 200 minutes: AHT?", "How many calls"),
    ("CES scores: 9, 6, 7 and 4", "outside"),
    ("We had 120 promoters, 130 promoters and 30 detractors from 300 responses: NPS?", "two different numbers"),
    # written with the second and third sets, untuned
    ("NPS with 70% promoters and 40% detractors?", "110%"),
    ("Our NPS survey had 50% promoters, 30% passives and 35% detractors. NPS?", "115%"),
    ("We had 300 customers, lost 350. Churn?", "can't lose more"),
    ("FCR if 1,200 of 1,000 calls were resolved first time?", "more than the 1,000"),
    ("CSAT: 130 satisfied out of 100 responses", "more than the 100"),
    ("CSAT please: 500 satisfied out of 450 responses", "more than the 450"),
    ("We had -20 passives, 50 promoters and 10 detractors: NPS?", "can't be negative"),
    ("We started with 1,000 customers and lost -50. Churn rate?", "can't be negative"),
    ("What's the CLV with ARPU of $30 a month?", "gross margin"),
    ("What is our NPS with 200 promoters?", "detractors"),
    ("We kept 2,100 of our 2,000 customers. Retention?", "can't keep more"),
    ("We started with 1,000 customers, kept 900 and lost 200. Churn?", "don't add up"),
])
def test_missing_or_contradictory_numbers_get_a_question_back(question, says):
    text = clarifying(question)
    assert says in text and "?" in text and "Your " not in text
    # no made-up number: every number in the reply is the user's, a point of a scale, or the user's numbers
    # added up to show where they disagree
    asked = {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", question)}
    for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text):
        value = float(n.replace(",", ""))
        assert value in asked or value <= 10 or value == 100 or "add up" in text, (n, text)


def test_a_reply_to_the_clarifying_question_completes_the_calculation():
    first = "We had 120 promoters and 30 detractors, what's our NPS?"
    assert "passives" in clarifying(first)
    assert results("50 passives", previous=first) == {"nps": 45}
    wrong = "200 responses: 120 promoters, 50 passives, 40 detractors. What's our NPS?"
    assert results("sorry, 30 detractors", previous=wrong) == {"nps": 45}
    # an unrelated question after a clarification is not merged into it
    assert analyse("What is the NPS if 45% are promoters and 20% are detractors?", previous=first) is not None
    assert results("What is the NPS if 45% are promoters and 20% are detractors?", previous=first) == {"nps": 25}


def _golden_questions() -> list[str]:
    out = []
    for path in sorted(GOLDEN.glob("*.jsonl")) + [HELDOUT]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                out.extend(t for t in [item.get("question")] + [q for q in item.get("turns", [])
                                                                if isinstance(q, str)] if t)
    return out


def test_questions_without_the_users_numbers_stay_with_the_answer_pipeline():
    questions = _golden_questions() + ["Is an NPS of 30 good?", "Why is annual churn not 12 times a 3% monthly churn?",
                                       "In the worked example, 250 of 500 were promoters: why is NPS +30?",
                                       "How many agents do I need for 400 calls an hour with AHT of 7 minutes?",
                                       "What is a good FCR? We're at 78% with 1,000 calls",
                                       # untuned, with the third set: numbers that ask for no calculation
                                       "What NPS should a SaaS company with 200 employees aim for?",
                                       "Is a CSAT of 80% good for an airline?",
                                       "Our churn went from 5% to 3% after we launched onboarding. Why might that be?",
                                       "We have 3 CX analysts and 2 researchers: how should we organise a VoC program?",
                                       "What were the top 5 moments of truth in the 2019 study?",
                                       "How do I reduce AHT below 6 minutes without hurting FCR?",
                                       "Explain the 4 pillars of CX", "Give me 10 ideas to improve customer effort",
                                       # a single number beside a metric's name is a benchmark question, not inputs
                                       "AHT with 5 minutes of talk?"]
    assert len(questions) > 200
    taken = [q for q in questions if analyse(q) is not None or ask(q) is not None]
    assert taken == []


@pytest.mark.parametrize("question, topic, aspect", [
    ("How do the sources define customer experience?", "customer experience", "definition"),
    ("compare definitions of CX", "CX", "definition"),
    ("do the documents agree on how to calculate CES?", "CES", "calculation"),
    ("How do our vendor guides define customer health score?", "customer health score", "definition"),
    ("What do the different documents say about journey mapping?", "journey mapping", "definition"),
    ("Compare the formulas for NPS", "NPS", "calculation"),
])
def test_sources_side_by_side_questions_are_recognised(question, topic, aspect):
    found = ask(question)
    assert found is not None and (found.topic, found.aspect) == (topic, aspect)


# Written apart from the recogniser. Against the first one (a list of whole-question patterns) the first set scored
# 7 of 12; the recogniser was then rebuilt on the question's parts (a pointer at several sources, a word asking for a
# definition or a calculation, the phrase that word governs) and the second set, run once, scored 9 of 10 and 7 of 8
# (fixed: reports and whitepapers are sources too; "how do I measure ..." is the user's own doing)
COMPARE_UNTUNED = [
    ("What definitions of NPS do the documents give?", "NPS", "definition"),
    ("How do different sources describe voice of the customer?", "voice of the customer", "definition"),
    ("Do the sources differ in how they define churn?", "churn", "definition"),
    ("Show me the definitions of customer experience side by side", "customer experience", "definition"),
    ("Compare how the documents define customer effort score", "customer effort score", "definition"),
    ("How does each document calculate NPS?", "NPS", "calculation"),
    ("Are there different formulas for customer lifetime value in the documents?", "customer lifetime value",
     "calculation"),
    ("How is customer experience defined across the sources?", "customer experience", "definition"),
    ("Compare the definitions of CX and customer service", "CX and customer service", "definition"),
    ("Which sources define customer journey mapping, and how?", "customer journey mapping", "definition"),
    ("What do the different sources say CX is?", "CX", "definition"),
    ("How do my uploaded guides define onboarding?", "onboarding", "definition"),
    ("How do the documents describe a customer persona?", "customer persona", "definition"),
    ("Side by side, how do the sources define customer success?", "customer success", "definition"),
    ("What does each document say about moments of truth?", "moments of truth", "definition"),
    ("I loaded three vendor whitepapers. How do they define NPS differently?", "NPS", "definition"),
    ("compare the ways the sources calculate customer churn", "customer churn", "calculation"),
    ("How do various authors define CX maturity?", "CX maturity", "definition"),
    ("Give me each source's definition of omnichannel", "omnichannel", "definition"),
    ("Do all the documents use the same formula for CSAT?", "CSAT", "calculation"),
    ("How is first contact resolution measured in the different documents?", "first contact resolution",
     "calculation"),
    ("What do the guides say the voice of the customer means?", "voice of the customer", "definition"),
]
COMPARE_NOT = ["What is customer experience?", "How is NPS calculated?", "What sources of customer feedback should I use?",
               "How do I compare NPS across regions?", "Which documents are in the knowledge base?",
               "How do customers define a good experience?", "Compare CSAT and NPS",
               "What is the difference between CX and UX?", "How do I define my target personas?",
               "What is the NPS formula?", "Describe the CX maturity model", "Which guides should I read first?",
               "Can you compare our NPS with the industry average?", "How many documents do you have about churn?",
               "What does CES measure?", "How do I measure customer effort in my documents workflow?"]


@pytest.mark.parametrize("question, topic, aspect", COMPARE_UNTUNED)
def test_sources_side_by_side_paraphrases_are_recognised(question, topic, aspect):
    found = ask(question)
    assert found is not None and (found.topic, found.aspect) == (topic, aspect)


@pytest.mark.parametrize("question", COMPARE_NOT)
def test_questions_that_compare_no_sources_are_left_to_the_pipeline(question):
    assert ask(question) is None


def test_definitions_are_found_in_any_inflection_and_clause_but_not_in_remarks():
    from copilot.compare import definitions, subject_pattern

    mapping = subject_pattern("customer journey mapping", {})
    assert definitions("A customer journey map is a visual story of one customer's steps.", mapping, "definition")
    assert definitions("Customer journey maps are drawn from the customer's view.", mapping, "definition")
    success = subject_pattern("customer success", {"cs": "customer success"})
    both = "Customer experience (CX) is about perception, while customer success (CS) is about account outcomes."
    assert definitions(both, success, "definition") == [("", False)]
    assert definitions("Customer success is most common in B2B companies.", success, "definition") == []
    assert definitions("The persona describes behaviours such as channels.", subject_pattern("persona", {}),
                       "definition") == []


# ---------------------------------------------------------------- through the copilot (fake embedder, real Chroma)

def test_the_copilot_answers_a_calculation_citing_the_passage_that_defines_the_formula(fake_copilot):
    result = fake_copilot.answer("We had 120 promoters, 50 passives and 30 detractors: what's our NPS?")
    assert not result.abstained and result.backend == "calculator"
    assert "+45" in result.text and "120 ÷ 200 × 100 − 30 ÷ 200 × 100" in result.text
    [cite] = result.citations
    assert cite.source == "nps.md" and "[1]" in result.text
    assert any("subtracting the percentage of detractors" in s for s in cite.sentences)
    assert all(s in cite.text for s in cite.sentences)
    clarify = fake_copilot.answer("We had 120 promoters and 30 detractors: NPS?")
    assert "passives" in clarify.text and not clarify.citations and "+" not in clarify.text


VENDOR_GUIDES = {
    "acme-guide.md": "# Acme success guide\n\n## What is a customer health score?\n\nA customer health score is a "
                     "number from 0 to 100 that combines product usage, support tickets and renewal dates to flag "
                     "accounts at risk.\n",
    "globex-playbook.md": "# Globex playbook\n\n## Customer health score\n\nCustomer health score is a traffic-light "
                          "rating that account managers set each quarter from executive sponsorship and survey "
                          "sentiment.\n",
    "initech-notes.md": "# Initech notes\n\n## Health scores\n\nForrester describes customer health score as an "
                        "early warning signal built from billing history and NPS responses.\n",
}


def test_loaded_documents_are_compared_side_by_side(fake_copilot, tmp_path):
    for name, text in VENDOR_GUIDES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    report = fake_copilot.ingest([tmp_path / n for n in VENDOR_GUIDES])
    assert report.ok
    result = fake_copilot.answer("How do the three vendor guides define customer health score?")
    assert result.backend == "comparison" and not result.abstained
    rows = {r["document"]: r for r in result.table}
    assert set(rows) == set(VENDOR_GUIDES)
    assert rows["initech-notes.md"]["source"] == "Forrester" and rows["initech-notes.md"]["attributed"]
    cited = {c.n: c for c in result.citations}
    for r in result.table:
        assert cited[r["n"]].source == r["document"] and r["extract"] in cited[r["n"]].text
        assert f"[{r['n']}]" in result.text
    # the differences are the extracts' own words
    summary = result.summary
    assert summary.startswith("Differences in scope:")
    extracts = " ".join(r["extract"].lower() for r in result.table)
    for phrase in summary.removeprefix("Differences in scope: ").rstrip(".").split("; "):
        words = phrase.split(" mentions ", 1)[1].replace(" and ", " ").split()
        assert all(w.strip(",") in extracts for w in words), phrase
    assert "product usage" in summary or "usage" in summary


def test_a_comparison_renders_as_an_escaped_table_with_linked_citations():
    from copilot.ui.render import messages

    turn = {"question": "How do the sources define <b>X</b>?", "answer": "2 definitions of X from 2 documents:\n- ...",
            "kind": "answer", "citations": [{"n": 1}, {"n": 2}], "summary": "Differences in scope: only <i>A</i>.",
            "table": [{"source": "Acme <script>", "document": "a.md", "extract": "X is <img src=x onerror=1>.", "n": 1,
                       "attributed": False},
                      {"source": "Gartner", "document": "b.md", "extract": "Gartner describes X as Y.", "n": 2,
                       "attributed": True}]}
    html = messages([turn])[1]["content"]
    assert html.count("<tr>") == 3 and html.count('class="cx-cite"') == 2 and 'href="#cx-src-0-2"' in html
    assert "<script>" not in html and "<img" not in html and "&lt;img src=x onerror=1&gt;" in html
    assert "&lt;i&gt;A&lt;/i&gt;" in html and "b.md" in html  # an authority's row names the document it is in
