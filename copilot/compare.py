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

# A sources-side-by-side question has two parts, in any phrasing: something that points at several sources
# ("the sources", "our vendor guides", "each document", "side by side", or the verb "compare"), and a word that
# asks for a definition or a calculation. The topic is the phrase that word governs: the object of a verb
# ("define X", "say about X"), the complement of a noun ("the formulas for X"), or the subject of a passive
# ("how is X defined"); it ends where the sentence turns back to the sources or ends.
_SOURCES = re.compile(r"\b(?:sources|documents|docs|references|authors|authorities|guides|vendors|experts|files|"
                      r"texts|literature|articles|papers|whitepapers|white papers|reports|studies|playbooks|handbooks|manuals|books|"
                      r"frameworks|materials|knowledge base|(?:each|every|different|"
                      r"various) (?:source|document|doc|guide|file|text|article|vendor|author)|side by side)\b", re.I)
_COMPARE = re.compile(r"\bcompar(?:e|ing|ison)\b", re.I)
_CALC_VERBS = r"calculate|calculates|calculating|compute|computes|computing|measure|measures|measuring|work out|" \
              r"works out|figure out"
_CALC_NOUNS = r"calculations?|formulas?|formulae|methods?|computations?"
_DEF_VERBS = r"define|defines|defining|describe|describes|describing|characteri[sz]e|characteri[sz]es|explain|" \
             r"explains|see|sees|view|views|say|says|state|states"
_DEF_NOUNS = r"definitions?|descriptions?|meanings?|explanations?"
_PASSIVE = r"defined|described|calculated|computed|measured|explained|characteri[sz]ed|seen|viewed"
_CUES = [  # (pattern with a <topic> group, aspect from the cue word)
    re.compile(rf"\b(?P<cue>{_DEF_NOUNS}|{_CALC_NOUNS})\s+(?:of|for)\s+(?P<topic>.+)", re.I),
    re.compile(rf"\b(?:is|are)\s+(?P<topic>.+?)\s+(?P<cue>{_PASSIVE})\b", re.I),
    re.compile(rf"\b(?P<cue>{_DEF_VERBS}|{_CALC_VERBS})\s+(?:(?:about|on|of|that)\s+)?(?P<topic>.+)", re.I),
]
# where the topic ends: the sentence turning back to the sources, a verb of the question, punctuation
_TOPIC_END = re.compile(r"[?!.;,:()\"]|\s(?:in|across|according|among|from|within|throughout|by|between|do|does|"
                        r"did|differ|differently|side|is|are|was|were|means?|as|give|gives|say|says|and how|"
                        r"compared?)\b", re.I)
_LEADING = re.compile(r"^(?:the|a|an|about|on|of|how|to|what|whether)\s+", re.I)
_PRONOUN = re.compile(r"^(?:it|they|them|this|that|these|those|each|one)$", re.I)
_PERSON = re.compile(r"\b(?:I|we|you)\s+(?:\w+\s+)?$", re.I)  # the subject of a cue verb, a word or two before it
_CALC_CUE = re.compile(rf"^(?:{_CALC_VERBS}|{_CALC_NOUNS}|calculated|computed|measured)$", re.I)


@dataclass(frozen=True)
class Ask:
    """A sources-side-by-side question: its topic and whether it asks for definitions or calculations."""

    topic: str
    aspect: str  # definition | calculation


def _topic(raw: str) -> str:
    cut = _TOPIC_END.search(" " + raw)
    topic = (" " + raw)[:cut.start()] if cut else raw
    topic = topic.strip()
    while True:
        stripped = _LEADING.sub("", topic)
        if stripped == topic:
            break
        topic = stripped
    return topic.strip(" ,;:'\"")


def ask(question: str) -> Ask | None:
    text = " ".join((question or "").split())
    if not (_SOURCES.search(text) or _COMPARE.search(text)):
        return None
    found: list[tuple[int, str, str]] = []
    for pattern in _CUES:
        for m in pattern.finditer(text):
            topic = _topic(m.group("topic"))
            if not topic or len(topic) > 80 or _PRONOUN.match(topic) or _SOURCES.fullmatch(topic) \
                    or _SOURCES.match(topic):
                continue
            if pattern is _CUES[2] and _PERSON.search(text[:m.start("cue")]):
                continue  # "how do I measure ...": the user's own doing, not what the sources say
            aspect = "calculation" if _CALC_CUE.match(m.group("cue")) else "definition"
            found.append((m.start("cue"), topic, aspect))
    if not found:
        return None
    _, topic, aspect = min(found)
    return Ask(topic, aspect)


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


# a document's own definition: the subject opens a clause and is said to be something ("is a ...", "is the ...",
# "is about ...", "are ...", "refers to ...", "means ..."); "X is most common in B2B" says something about X
# without defining it
_VERBS_OWN = (r"(?:(?:is|can be defined as|is defined as)\s+(?:a|an|the|about|how|what|when|where|whether|one|any|"
              r"every|all|our|its|their|each|[a-z]+'s?)\b|are|refers? to|means)")
_CLAUSE_START = r"(?:^|[;:]\s+|,?\s+(?:while|whereas)\s+)"
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
    alts = "|".join(_inflected(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alts})(?:\s*\([A-Za-z0-9&]{{2,8}}\))?(?![\w-])", re.I)


def _inflected(name: str) -> str:
    """A name as a pattern whose last word may take another inflection: "journey mapping" also finds "journey
    map" and "journey maps", "personas" finds "persona". Acronyms and short words stay as written."""
    head, _, last = name.rpartition(" ")
    if len(last) < 4 or not last.isalpha() or last.isupper():
        return re.escape(name)
    base = stem(last.lower())
    forms = {last.lower(), last.lower() + "s", last.lower() + "es"}
    if len(base) >= 3 and last.lower().startswith(base):
        forms |= {base + end for end in ("", "s", "e", "es", "ed", "ing", "ings")}
        forms |= {base + base[-1] + end for end in ("ed", "ing", "ings")}
    words = "|".join(sorted((re.escape(f) for f in forms), key=len, reverse=True))
    return (re.escape(head) + r"\s+" if head else "") + f"(?:{words})"


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
    own = re.search(rf"{_CLAUSE_START}\s*(?:The |A |An )?(?:{subject.pattern})\s+{_VERBS_OWN}", sentence, re.I)
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


_CONTRAST = re.compile(r",?\s+(?:while|whereas)\s+|[;:]\s+", re.I)
_ATTRIBUTION_WORDS = {stem(w) for w in re.findall(r"[a-z]+", (_VERBS_OWN + _VERBS_ATTR + _VERBS_CLAIM).lower())}


def _scope(row: Row, subject: re.Pattern) -> str:
    """The part of an extract that speaks of the subject: without a contrast clause about something else
    ("..., while customer service is ..."), the subject's own name or the authority's."""
    clauses = _CONTRAST.split(row.extract)
    body = next((c for c in clauses if re.match(rf"\s*(?:The |A |An )?(?:{subject.pattern})", c, re.I)), clauses[0])
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
        for word in re.findall(r"[A-Za-z][A-Za-z'-]*|[^\sA-Za-z'-]", scope):  # punctuation ends a run
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
