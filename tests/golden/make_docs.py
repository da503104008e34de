"""Regenerate the test PDF in tests/golden/docs/ (fictional company material for the documents golden set).

Run from the project root: `.venv/bin/python tests/golden/make_docs.py`. The page texts live here and not in
docs/, since every file in docs/ is loaded as a document. Paragraphs are separated by a blank line; avoid
hyphenated words (the PDF line wrapper may split them and the loader then joins the halves).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import make_pdf  # noqa: E402

TITLE = "Acme Bank complaint handling standard"

PAGES = [
    # page 1: what a complaint is, acknowledgement and time limits
    """Acme Bank complaint handling standard

Part 1: Receiving and acknowledging complaints

Acme Bank treats any expression of dissatisfaction as a complaint. It does not matter whether the customer \
contacts us by phone, in a branch, by letter, in the mobile app or on social media, and the customer does not \
have to use the word complaint.

Acme Bank acknowledges every complaint within one business day. The acknowledgement gives the customer a \
reference number and the name of the case handler who owns the complaint until it is closed.

Acme Bank aims to resolve simple complaints by the end of the third business day. A complaint resolved within \
three business days is closed with a summary resolution communication instead of a full final response letter.

Acme Bank sends a final response letter within 8 weeks of receiving a complaint. Complaints about payment \
services have a shorter limit and must receive a final response within 35 business days.""",
    # page 2: escalation levels and the ombudsman
    """Part 2: Escalation and the ombudsman

Acme Bank handles complaints through three escalation levels. Level 1 is the frontline colleague or branch \
team who first receives the complaint. Level 2 is the Customer Relations Team, which takes over any complaint \
that is not resolved within five business days.

Acme Bank reserves Level 3 for the Executive Complaints Office. This office reviews complaints that involve a \
vulnerable customer, media attention or a potential loss above $10,000, and its decision is the final position \
of the bank.

Acme Bank tells customers they may refer a complaint to the Financial Ombudsman after 8 weeks. A customer who \
has not received a final response by then, or who disagrees with it, can go to the ombudsman free of charge. \
The final response letter explains that the customer has six months to make that referral.

Acme Bank case handlers never close a complaint without the agreement of the customer, unless the final \
response letter has been sent.""",
    # page 3: compensation, categories and reporting
    """Part 3: Compensation, categories and reporting

Acme Bank pays compensation to put the customer back where they would have been without our error. \
Financial loss, including lost interest and bank charges caused by the error, is always refunded in full.

Acme Bank makes distress and inconvenience payments starting at $50. Frontline colleagues may award up to \
$250 without approval; larger payments need approval from the Customer Relations Team.

Acme Bank records every complaint under one of six complaint categories: fees and charges, service quality, \
fraud and scams, lending decisions, digital banking, and accessibility. A complaint that fits more than one \
category is recorded under the category of its main cause.

Acme Bank reports complaint data to the board every month. The monthly complaints report shows volumes by \
category, the share resolved within three business days, the uphold rate and the number of cases referred to \
the ombudsman.

Acme Bank runs a root cause review every quarter. The review takes the five categories with the most upheld \
complaints and gives each fix to a named product owner.""",
]


def main() -> Path:
    return make_pdf(HERE / "docs" / "acme-bank-complaints.pdf", PAGES, TITLE)


if __name__ == "__main__":
    print(main())
