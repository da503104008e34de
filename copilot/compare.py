"""Sources side by side: "How do the sources define customer experience?", "compare definitions of CX", "do the
documents agree on how to calculate CES?".

`ask(question)` recognises such a question and its topic; `respond(retriever, question)` searches the index
widely, reads every retrieved passage for sentences that define the topic (or state how to calculate it),
and returns one row per source: a document in its own words ("Customer experience (CX) is ...") or an
authority a passage attributes a definition to ("Gartner describes customer experience as ..."). Each row is
an extract, cited. The differences in scope are one sentence built from the extracts alone: the words each
definition uses that none of the others does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .answer import Answer, Citation
from .text import split_sentences, stem, terms

SOURCES = (r"(?:sources?|documents?|docs|references?|authors?|authorities|guides?|vendors?|experts?|files?|texts?|"
           r"literature|articles?|frameworks?|materials?|knowledge base)")
DETERMINERS = (r"(?:(?:the|our|these|those|my|different|various|each|all|your|loaded)\s+)*"
               r"(?:(?!(?:define|describe|say|agree|differ)\b)[\w-]+\s+){0,2}")  # "the three vendor guides"
CALC = r"(?:calculate|compute|measure|work out|figure out)"
_ASKS = [
    re.compile(rf"\bhow (?:do|does|did) {DETERMINERS}{SOURCES} (?P<verb>define|describe|explain|characteri[sz]e|"
               rf"{CALC}|see|view) (?P<topic>.+)", re.I),
    re.compile(rf"\bhow (?:is|are) (?P<topic>.+?) (?P<verb>defined|described|calculated|measured|computed) (?:in|by|"
               rf"across|according to) {DETERMINERS}{SOURCES}", re.I),
    re.compile(r"\bcompare (?:the )?(?:different |various |all )?(?P<verb>definitions?|formulas?|calculations?|"
               r"descriptions?|methods?) (?:of|for) (?P<topic>.+)", re.I),
    re.compile(rf"\b(?:do|does) {DETERMINERS}{SOURCES} (?:all )?(?:agree|differ|disagree|diverge)(?: on| about| in)?"
               rf" (?:(?:how|whether) (?:to )?(?P<verb>{CALC}|define|describe) |the (?P<verb2>definition|formula|"
               rf"calculation|meaning) of |what )?(?P<topic>.+)", re.I),
    re.compile(rf"\bwhat do {DETERMINERS}{SOURCES} say (?:about |(?P<verb>how to {CALC}) )?(?P<topic>.+?)"
               rf"(?: is| means)?\s*[?.!]*$", re.I),
    re.compile(r"\b(?P<verb>definitions?|formulas?) of (?P<topic>.+?) (?:side by side|compared|across (?:the )?"
               r"(?:sources|documents))", re.I),
]
_TRAILING = re.compile(r"\s*(?:\b(?:differently|side by side|across (?:the )?(?:sources|documents)|"
                       r"in the (?:sources|documents)|is|are|means?|as)\b\s*)*[?.!]*\s*$", re.I)
_LEADING = re.compile(r"^(?:the |a |an |about |on |of )+", re.I)


@dataclass(frozen=True)
class Ask:
    """A sources-side-by-side question: its topic and whether it asks for definitions or calculations."""

    topic: str
    aspect: str  # definition | calculation


def ask(question: str) -> Ask | None:
    text = " ".join((question or "").split())
    for pattern in _ASKS:
        m = pattern.search(text)
        if not m:
            continue
        topic = _LEADING.sub("", _TRAILING.sub("", m.group("topic"))).strip(" ,;:")
        if not topic or len(topic) > 80:
            continue
        verb = (m.groupdict().get("verb") or m.groupdict().get("verb2") or "").lower()
        calc = bool(re.match(r"(?:how to )?(?:calculat|comput|measur|formula|work out|figure out|method)", verb))
        return Ask(topic, "calculation" if calc else "definition")
    return None


# ---------------------------------------------------------------- finding definitions in passages

@dataclass
class Row:
    """One source's definition: who gives it, the document it is in, the extract, the citation number."""

    who: str
    source: str
    title: str
    extract: str
    n: int = 0
    attributed: bool = False
    passage_id: str = ""

    def label(self) -> str:
        return self.who or self.title or self.source


_VERBS_OWN = r"(?:is|are|refers to|means|can be defined as|is defined as|is the|describes)"
_VERBS_ATTR = r"(?:describes|describe|defines|define|characteri[sz]es|sees|views|frames|treats|explains)"
_VERBS_CLAIM = r"(?:stressed|stresses|argued|argues|said|says|wrote|writes|states|stated|noted|notes|explained|holds)"
_WHO = r"(?P<who>(?:[A-Z][\w&'.-]*|ISO)(?:(?:\s+|\s*,\s*|\s+and\s+|\s*&\s*)(?:[A-Z0-9][\w&'.-]*))*)"
_NOT_WHO = frozenset({"The", "This", "That", "These", "It", "A", "An", "In", "For", "Some", "Many", "Most", "Each",
                      "Both", "Teams", "Companies", "Organisations", "Organizations", "CX", "Customers", "Practitioners"})


def subject_pattern(topic: str, acronyms: dict[str, str]) -> re.Pattern:
    """The ways a text names the topic: as asked, spelled out or as its acronym, optionally followed by the
    acronym in brackets ("Customer experience (CX)")."""
    names = {topic.strip()}
    low = topic.lower().strip()
    if low in acronyms:
        names.add(acronyms[low])
    for acro, long in acronyms.items():
        if long.lower() == low:
            names.add(acro.upper())
    alts = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alts})(?:\s*\([A-Za-z0-9&]{{2,8}}\))?(?![\w-])", re.I)


_WORKED = re.compile(r"\d\s*[×x*÷/]\s*\d|\d\s*[−+-]\s*\d")  # arithmetic on numbers: a worked example
_METHOD = re.compile(r"\b(?:the\s+)?((?:[a-z-]+\s+){0,2}(?:method|formula))\b", re.I)


def definitions(sentence: str, subject: re.Pattern, aspect: str) -> list[tuple[str, bool]]:
    """(who, attributed) for each way the sentence defines the subject: "" for the document's own voice; for
    calculations, the method the sentence names ("average method"), if any."""
    if aspect == "calculation":
        s = subject.search(sentence)
        if s and re.search(r"=|÷|\bdivided by\b", sentence[s.start():]) and not _WORKED.search(sentence):
            m = _METHOD.search(sentence[:sentence.find("=") if "=" in sentence else len(sentence)])
            return [(m.group(1).lower() if m else "", False)]
        return []
    out: list[tuple[str, bool]] = []
    own = re.match(rf"\s*(?:The |A |An )?(?:{subject.pattern})\s+{_VERBS_OWN}\b", sentence, re.I)
    if own:
        out.append(("", False))
    for pattern in (rf"{_WHO}(?:\s*,[^,]{{3,90}},)?\s+{_VERBS_ATTR}\s+(?:{subject.pattern})\s+(?:as|to be|in terms of)\b",
                    rf"{_WHO}(?:\s*,[^,]{{3,90}},)?\s+{_VERBS_CLAIM}\s+that\s+(?:{subject.pattern})\s+(?:is|are|means)\b"):
        for m in re.finditer(pattern, sentence):
            who = m.group("who").strip(" ,")
            first = who.split()[0]
            if first in _NOT_WHO or subject.fullmatch(who):
                continue
            out.append((who, True))
    return out


@dataclass
class Comparison:
    ask: Ask
    rows: list[Row] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    differences: str = ""


def compare(retriever, question_ask: Ask, passages: int = 14) -> Comparison:
    """Rows of definitions of the topic from the passages retrieval finds for it."""
    topic = question_ask.topic
    acronyms = getattr(retriever, "acronyms", {}) or {}
    subject = subject_pattern(topic, acronyms)
    query = (f"How is {topic} calculated? formula" if question_ask.aspect == "calculation"
             else f"What is {topic}? definition of {topic}")
    settings = replace(retriever.settings, top_k=passages, candidates=max(retriever.settings.candidates, 40),
                       source_decay=0.5)
    hits = retriever.search(query, settings)
    out = Comparison(question_ask)
    seen: set[tuple[str, str]] = set()
    for hit in hits:
        chunk = hit.chunk
        if chunk is None:
            continue
        meta = chunk.metadata
        source, title = meta.get("source", ""), meta.get("title", "")
        used: list[str] = []
        for sentence in split_sentences(chunk.text):
            for who, attributed in definitions(sentence, subject, question_ask.aspect):
                if question_ask.aspect == "calculation":
                    key = (source, sentence)
                    who = f"{title or source}, {who}" if who else (title or source)
                else:
                    key = ("", who.lower()) if attributed else (source, "")
                if key in seen:
                    continue
                seen.add(key)
                out.rows.append(Row(who or title or source, source, title, sentence, 0, attributed, hit.id))
                used.append(sentence)
        if used:
            n = len(out.citations) + 1
            out.citations.append(Citation(n, source, title, meta.get("page"), meta.get("section", ""), chunk.text,
                                          hit.score, used, hit.id))
            for row in out.rows:
                if row.passage_id == hit.id and not row.n:
                    row.n = n
    out.differences = differences(out.rows, subject, retriever)
    return out


GENERIC = frozenset({"compani", "custom", "includ", "everi", "whole", "overal", "part", "also", "therefor", "mean",
                     "defin", "describ", "call", "refer", "term", "result", "form", "way", "one", "wide", "sum"})


_CONTRAST = re.compile(r",?\s+(?:while|whereas)\s+|;\s+", re.I)
_ATTRIBUTION_WORDS = {stem(w) for w in re.findall(r"[a-z]+", (_VERBS_OWN + _VERBS_ATTR + _VERBS_CLAIM).lower())}


def _scope(row: Row, subject: re.Pattern) -> str:
    """The part of an extract that speaks of the subject: without a contrast clause about something else
    ("..., while customer service is ..."), the subject's own name or the authority's."""
    body = _CONTRAST.split(row.extract, maxsplit=1)[0]
    if row.attributed:
        body = body.replace(row.who, " ")
    return subject.sub(" ", body)


def differences(rows: list[Row], subject: re.Pattern, retriever=None) -> str:
    """One sentence on what each extract includes that the others leave out, in the extracts' own words:
    for each definition, its longest runs of words that no other definition uses (by rarity in the index)."""
    if len(rows) < 2:
        return ""
    skip = GENERIC | _ATTRIBUTION_WORDS | set(terms(" ".join(m.group(0) for r in rows for m in
                                                              subject.finditer(r.extract))))
    scopes = [_scope(r, subject) for r in rows]
    bags = [set(terms(s)) - skip for s in scopes]
    idf = getattr(getattr(retriever, "lexical", None), "idf", None)
    parts = []
    for k, (row, scope) in enumerate(zip(rows, scopes)):
        others = set().union(*(b for j, b in enumerate(bags) if j != k))
        phrases: list[list[str]] = []
        run: list[str] = []
        for word in re.findall(r"[A-Za-z][A-Za-z'-]*|[,;:.()]", scope):
            t = terms(word)
            if len(word) >= 4 and t and t[0] in bags[k] and t[0] not in others:
                run.append(word)
            else:
                if run:
                    phrases.append(run)
                run = []
        if run:
            phrases.append(run)
        if not phrases:
            continue
        weight = (lambda p: sum(idf(t) or 1.0 for w in p for t in terms(w))) if idf else (lambda p: float(len(p)))
        chosen = sorted(phrases, key=weight, reverse=True)[:2]
        chosen = [" ".join(p).lower() if not any(w.isupper() for w in p) else " ".join(p) for p in chosen]
        listed = chosen[0] if len(chosen) == 1 else f"{chosen[0]} and {chosen[1]}"
        parts.append(f"only {row.label()} mentions {listed}")
        if len(parts) == 4:
            break
    if not parts:
        return "The definitions use the same terms: none includes something the others leave out."
    return "Differences in scope: " + "; ".join(parts) + "."


def respond(retriever, question: str) -> Answer | None:
    """The side-by-side answer to a sources-comparison question, or None when the question is not one."""
    found = ask(question)
    if found is None:
        return None
    result = compare(retriever, found)
    what = "how to calculate" if found.aspect == "calculation" else "how to define"
    if not result.rows:
        text = (f"None of the documents in the knowledge base states {what} {found.topic} in a sentence I can "
                "quote, so there is nothing to compare.")
        return ComparisonAnswer(question, text, True, [], backend="comparison", standalone_question=question)
    sources = list(dict.fromkeys(r.source for r in result.rows))
    voices = len(result.rows)
    docs = f"{len(sources)} document{'s' if len(sources) != 1 else ''}"
    if found.aspect == "definition":
        head = f"{voices} definition{'s' if voices != 1 else ''} of {found.topic} from {docs}"
    elif len(sources) == 1:
        head = (f"Only one document in the knowledge base, {sources[0]}, states how to calculate {found.topic}"
                + (f"; it gives {voices} formulas" if voices > 1 else ""))
    else:
        head = f"{voices} formulas for {found.topic} from {docs}"
    lines = [f"{head}:"]
    for r in result.rows:
        where = f" (in {r.source})" if r.attributed else f" ({r.source})"
        lines.append(f"- {r.label()}{where}: \"{r.extract}\" [{r.n}]")
    text = "\n".join(lines)
    if result.differences:
        text += "\n\n" + result.differences
    elif len(sources) == 1 and voices == 1:
        text += "\n\nOnly one source in the knowledge base states it, so there is nothing to compare it with."
    table = [{"source": r.label(), "document": r.source, "title": r.title, "extract": r.extract, "n": r.n,
              "attributed": r.attributed} for r in result.rows]
    return ComparisonAnswer(question, text, False, result.citations, backend="comparison",
                            standalone_question=question, table=table, summary=result.differences)


@dataclass
class ComparisonAnswer(Answer):
    """An Answer with the rows of the comparison, for a table (the web app shows one)."""

    table: list[dict] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict:
        return {**super().to_dict(), "table": self.table}
