"""Pure text helpers: tokenising for BM25 and overlap scoring, sentence splitting, markdown clean-up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves tell explain describe mean means meaning define definition please give
    know want need also us let lets get gets does do s t d ll m re ve""".split()
)

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


_BRITISH = [(re.compile(r"^(\w{3,})is(e|es|ed|ing|ation|ations|er|ers)$"), r"\1iz\2"),
            (re.compile(r"^(\w{3,})our(s|ed|ing|al|able)?$"), r"\1or\2"),
            (re.compile(r"^(\w{2,})tre(s)?$"), r"\1ter\2")]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball (Porter 2) stem, with British spellings folded into American ones first."""
    if len(word) <= 3 or word.isdigit():
        return word
    for pattern, repl in _BRITISH:
        word = pattern.sub(repl, word)
    return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens, punctuation dropped, hyphenated words split into parts too."""
    out: list[str] = []
    for tok in _TOKEN_RE.findall(text.lower().replace("’", "'")):
        tok = tok.replace("'s", "").replace("'", "")
        if "-" in tok:
            out.extend(p for p in tok.split("-") if p)
        else:
            out.append(tok)
    return out


def terms(text: str) -> list[str]:
    """Content terms: words without stopwords, stemmed. Used by BM25 and by sentence scoring."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


# words that ask for the same aspect of a topic ("formula" / "calculated"), for judging which passage and
# which sentences answer a question (not for BM25, which keeps exact terms)
_ASPECTS = {"formula": "calcul", "comput": "calcul", "benchmark": "good", "typic": "good",
            **{w: "origin" for w in ("came", "come", "invent", "inventor", "introduc", "coin", "popular", "pioneer")},
            # superlatives, which the stemmer keeps whole, fold to their base: "simplest" matches "simple"
            **{w + "est": w for w in ("simpl", "quick", "fast", "cheap", "small", "high", "strong", "weak", "great")},
            "easiest": "easi", "earliest": "earli", "largest": "larg", "biggest": "big", "lowest": "low",
            **{w: "evid" for w in ("studi", "research")},
            # words for a topic's weak and strong points: "any downsides?" asks for a section on "the limits of
            # CSAT", "what are the benefits?" for one on "the strengths of CSAT"
            **{w: "limit" for w in ("downsid", "drawback", "disadvantag", "pitfal", "shortcom", "flaw", "con")},
            **{w: "strength" for w in ("advantag", "benefit", "upsid", "pro", "pros", "merit")}}
# irregular verb forms, which the stemmer leaves alone, fold to the verb: "spent" matches "spend"
_IRREGULAR = """spend spent | buy bought | make made | pay paid | take took taken | give gave given | find found |
    begin began begun | grow grew grown | know knew known | leave left | lose lost | keep kept | feel felt |
    tell told | sell sold | think thought | bring brought | build built | choose chose chosen | meet met |
    see saw seen | go went gone | win won | write wrote written | drive drove driven | rise rose risen |
    fall fell fallen | hold held | lead led | teach taught | speak spoke spoken | break broke broken"""


@lru_cache(maxsize=1)
def _aspects() -> dict[str, str]:
    table = dict(_ASPECTS)
    for group in _IRREGULAR.split("|"):
        base, *forms = group.split()
        for form in forms:
            table.setdefault(stem(form), stem(base))
    return table


def aspect(term: str) -> str:
    """A stemmed term with words for one aspect folded together: "formula" and "calculated" match."""
    return _aspects().get(term, term)


_PHRASES = [(re.compile(r"\b(?:work|figure)(?:s|ed|ing)?\s+out\b", re.I), "calculate"),
            # whole words where the stem would be too wide ("weak" and "wrong" alone are not about limits)
            (re.compile(r"\bweakness(?:es)?\b|\b(?:go|goes|went|gone|going)\s+wrong\b", re.I), "limits")]


def aspect_phrases(text: str) -> str:
    """Phrasal verbs as the one word they mean, for aspect matching: "work out AHT" -> "calculate AHT"."""
    for pattern, word in _PHRASES:
        text = pattern.sub(word, text)
    return text


def aspect_terms(text: str) -> set[str]:
    return {aspect(t) for t in terms(aspect_phrases(text))}


_ABBREV = ("e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Ms.", "Dr.", "Inc.", "Ltd.", "Co.", "St.", "No.",
           "U.S.", "U.K.", "approx.", "cf.", "al.", "Fig.", "p.", "pp.", "Jr.", "Sr.", "Mt.", "Ft.", "Gen.",
           "Gov.", "Sen.", "Rep.", "Prof.", "Corp.", "Bros.", "Jan.", "Feb.", "Aug.", "Sept.", "Oct.", "Nov.",
           "Dec.", "U.S.A.", "D.C.", "L.A.", "a.m.", "p.m.")
_ABBREV_RE = re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(a) for a in sorted(_ABBREV, key=len, reverse=True))
                        + r")", re.I)
_INITIAL_RE = re.compile(r"(?<![\w.])[A-Z]\.(?=\s+[A-Z])")  # "John F. Kennedy", "J. R. R. Tolkien"
# a sentence ends at . ! or ? (after any closing quote, bracket or reference mark like "[12]"), before
# whitespace and a capital letter, digit or opening quote
_SPLIT_RE = re.compile(r"(?<=[.!?])[\"”’)]?(?:\[\d{1,3}\])*\s+(?=[\"“(]?[A-Z0-9])")
_BLOCK_RE = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t])")
_MARKER_RE = re.compile(r"(?:[-*+•]|\d{1,3}[.)])[ \t]+")


@dataclass(frozen=True)
class Span:
    """One sentence of a text: where it is (offsets into the text, any list marker excluded), whether it is
    (part of) a list item, whether it opens its paragraph or item, and the item's marker ("-", "2.")."""

    start: int
    end: int
    item: bool = False
    opens: bool = True
    marker: str = ""


def sentence_spans(text: str) -> list[Span]:
    """Split text into sentences with their offsets. Paragraphs (blank lines) and list items (lines that
    start with -, *, +, • or "1." / "1)") always end a sentence; inside them, a sentence ends at terminal
    punctuation unless it belongs to a known abbreviation or an initial."""
    spans: list[Span] = []
    bounds = [(m.start(), m.end()) for m in _BLOCK_RE.finditer(text)]
    starts = [0] + [e for _, e in bounds]
    ends = [s for s, _ in bounds] + [len(text)]
    for b_start, b_end in zip(starts, ends):
        block = text[b_start:b_end]
        lead = len(block) - len(block.lstrip())
        m = _MARKER_RE.match(block, lead)
        marker = ""
        body_start = lead
        if m:
            marker = m.group(0).strip()
            body_start = m.end()
        body = block[body_start:]
        protected = _ABBREV_RE.sub(lambda x: x.group(0).replace(".", "\x00"), body)
        protected = _INITIAL_RE.sub(lambda x: x.group(0).replace(".", "\x00"), protected)
        cuts = [0] + [x.end() for x in _SPLIT_RE.finditer(protected)] + [len(body)]
        first = True
        for a, b in zip(cuts, cuts[1:]):
            piece = body[a:b]
            stripped = piece.strip()
            if not stripped:
                continue
            s = b_start + body_start + a + (len(piece) - len(piece.lstrip()))
            spans.append(Span(s, s + len(stripped), bool(marker), first, marker if first else ""))
            first = False
    return spans


def span_text(text: str, span: Span) -> str:
    """A sentence's text with its whitespace collapsed."""
    return " ".join(text[span.start:span.end].split())


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences; list items and lines of their own count as sentences too."""
    return [sentence for sentence, _ in sentence_units(text)]


def sentence_units(text: str) -> list[tuple[str, bool]]:
    """Sentences with a flag saying whether each one is (part of) a list item."""
    return [(sentence, item) for sentence, item, _ in sentence_blocks(text)]


def sentence_blocks(text: str) -> list[tuple[str, bool, bool]]:
    """Sentences with two flags: part of a list item; first sentence of its paragraph."""
    return [(span_text(text, s), s.item, s.opens) for s in sentence_spans(text)]


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPH = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def clean_markdown(text: str) -> str:
    """Inline markdown to plain text: links keep their label, emphasis and code marks go."""
    text = _MD_LINK.sub(r"\1", text)
    for _ in range(2):
        text = _MD_EMPH.sub(r"\2", text)
    text = re.sub(r"^\s*>\s?", "", text, flags=re.M)
    text = re.sub(r"^\s*(?:---+|\*\*\*+|___+)\s*$", "", text, flags=re.M)
    return text


def count_words(text: str) -> int:
    return len(text.split())


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)
