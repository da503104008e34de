"""Answers: the data they carry, the answerer interface, and the default extractive answerer.

The extractive answerer needs no language model: it picks the sentences of the retrieved passages that
best answer the question and composes them, each followed by its citation marker. Follow-up questions are
made standalone with the conversation before retrieval (`condense`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from .text import STOPWORDS, aspect, aspect_terms, jaccard, sentence_blocks, sentence_units, terms, words


@dataclass
class Passage:
    """A retrieved chunk as the answerer sees it."""

    id: str
    text: str
    source: str
    title: str
    section: str = ""
    page: int | None = None
    score: float = 0.0


@dataclass
class Citation:
    n: int
    source: str
    title: str
    page: int | None
    section: str
    text: str
    score: float
    sentences: list[str] = field(default_factory=list)  # the passage's sentences the answer used
    id: str = ""

    def to_dict(self) -> dict:
        return {"n": self.n, "source": self.source, "title": self.title, "page": self.page,
                "section": self.section, "text": self.text, "score": round(float(self.score), 4)}


@dataclass
class Answer:
    question: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    backend: str = "extractive"
    standalone_question: str = ""
    dropped: list[str] = field(default_factory=list)  # sentences removed as unsupported (LLM backends)
    notes: list[str] = field(default_factory=list)  # e.g. why a backend fell back
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The stable JSON shape (`cx-copilot ask --json`, the web API)."""
        return {"answer": self.text, "abstained": self.abstained,
                "citations": [c.to_dict() for c in self.citations]}


History = Sequence  # of (role, text) pairs or {"role": ..., "content": ...} dicts


def normalise_history(history: History | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict):
            role, content = turn.get("role", ""), turn.get("content", "")
        else:
            role, content = turn[0], turn[1]
        if isinstance(content, str) and content.strip():
            out.append((str(role), content.strip()))
    return out


# ---------------------------------------------------------------- follow-ups

_ANAPHORA = {"it", "its", "this", "that", "these", "those", "they", "them", "their", "one", "ones", "there",
             "he", "she", "him", "her", "same"}
_CONTINUATION = re.compile(r"^\s*(and|also|so|but|then|what about|how about|and what|what else|why|how come|"
                           r"ok|okay|and how)\b", re.I)


def is_follow_up(question: str) -> bool:
    """Does the question lean on earlier turns ("and how do I calculate it?")?"""
    ws = words(question)
    content = terms(question)
    return (bool(_CONTINUATION.match(question)) or any(w in _ANAPHORA for w in ws) or not content
            or (len(content) == 1 and "the" in ws))  # "What is the formula?" - the formula of what came before


_PRONOUN = re.compile(r"\b(it|this|that|they|them|these|those|this one|that one)\b(?!['’])", re.I)
_POSSESSIVE = re.compile(r"\b(its|their)\b", re.I)
_QUESTION_WORDS = STOPWORDS | {"difference", "between", "example", "examples", "good", "best", "work", "works"}


def subject_of(question: str) -> str:
    """The topic words of a question: 'What is the Customer Effort Score?' -> 'Customer Effort Score'."""
    kept = [w for w in re.findall(r"[\w&+%'’-]+", question) if w.lower().strip("'’") not in _QUESTION_WORDS]
    return " ".join(kept)


def condense(question: str, history: History | None) -> str:
    """A standalone version of `question`: a follow-up borrows the subject of the earlier user turns
    ("and how do I calculate it?" after "What is NPS?" becomes "and how do I calculate NPS?")."""
    turns = [text for role, text in normalise_history(history) if role == "user"]
    if not turns or not is_follow_up(question):
        return question
    subjects: list[str] = []
    for text in reversed(turns):  # walk back until a turn that stands on its own
        subject = subject_of(text)
        if subject:
            subjects.insert(0, subject)
        if not is_follow_up(text) or len(subjects) == 2:
            break
    subject = " ".join(dict.fromkeys(" ".join(subjects).split()))
    if not subject:
        return question
    if _PRONOUN.search(question):
        return _PRONOUN.sub(subject, question, count=1)
    if _POSSESSIVE.search(question):
        return _POSSESSIVE.sub(f"{subject}'s", question, count=1)
    return f"{question.rstrip()} ({subject})"


# ---------------------------------------------------------------- composing answers with citations

def compose(picked: Sequence[tuple[str, int]], passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
    """Join (sentence, passage index) pairs into text with [n] markers numbered by first appearance."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for sentence, idx in picked:
        if idx not in numbers:
            p = passages[idx]
            numbers[idx] = len(numbers) + 1
            citations.append(Citation(numbers[idx], p.source, p.title, p.page, p.section, p.text, p.score, [], p.id))
        cit = citations[numbers[idx] - 1]
        cit.sentences.append(sentence)
        parts.append(with_marker(sentence, numbers[idx]))
    return " ".join(parts), citations


def with_marker(sentence: str, n: int) -> str:
    """'NPS ranges from -100 to +100.' -> 'NPS ranges from -100 to +100 [1].' A list's introduction
    ('... as follows:') carries no marker of its own: its items do."""
    s = sentence.rstrip()
    if s.endswith(":"):
        return s
    m = re.search(r"(?<![.!?])([.!]+)$", s)
    if m:
        return f"{s[:m.start()]} [{n}]{m.group(1)}"
    return f"{s} [{n}]"


# ---------------------------------------------------------------- comparison questions

_LEAD = r"(?:what(?:'s| is| are)|how (?:is|are|does|do)|is|are|explain|tell me)?\s*(?:the\s+)?"
_COMPARE = [
    re.compile(r"differences? between\s+(?:an?\s+|the\s+)?(.+?)\s+and\s+(?:an?\s+|the\s+)?(.+?)(?:\s+(?:when|in|for)\s+.*)?[?.!]*$", re.I),
    re.compile(r"^" + _LEAD + r"(.+?)\s+(?:different from|differ from|compare (?:to|with)|compared (?:to|with)|vs\.?|versus)\s+(?:an?\s+|the\s+)?(.+?)[?.!]*$", re.I),
]


def comparison_sides(question: str) -> tuple[str, str] | None:
    """('X-data', 'O-data') for 'What's the difference between X-data and O-data?', else None."""
    question = question.strip()
    # "X-data vs O-data - what's the difference?": the pair is named before the dash
    head = re.split(r"\s*:\s+|\s+-\s+|\s*[–—]\s*", question, maxsplit=1)[0]
    for text in dict.fromkeys([question, head]):
        for pattern in _COMPARE:
            m = pattern.search(text)
            if m:
                a, b = (re.sub(r"^(?:an?|the)\s+", "", x.strip(" ,"), flags=re.I) for x in m.groups())
                if terms(a) and terms(b) and len(a.split()) <= 4 and len(b.split()) <= 4:
                    return a, b
    return None


# what kind of answer a question asks for, and how a sentence that gives one looks
_DURATION = re.compile(r"\b\d+(?:[.,]\d+)?(?:\s*(?:to|-|–|or)\s*\d+)?\s*(?:business\s+|working\s+|calendar\s+)?"
                       r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|quarters?|years?)\b", re.I)
_YEAR = re.compile(r"\b(?:1[6-9]|20)\d\d(?:s|\b)")
_PERSON = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]{2,}\b")
_QUANTITY = re.compile(r"\d")
_ANSWER_TYPES = [  # (the question asks ..., a sentence answers with ..., the question's wh-words count as answered)
    (re.compile(r"\bhow (?:quickly|soon|fast|long|often)\b|\bwithin how\b|\bwhat (?:time ?frame|deadline)\b", re.I),
     _DURATION, True),
    (re.compile(r"\b(?:when|what year|which year|what decade)\b", re.I), _YEAR, False),
    # "who came up with ...?" wants a name; "who owns CX?" wants a role, which is not a name
    (re.compile(r"\bwho (?:first )?(?:came up|invented|coined|created|introduced|developed|popularized|popularised)\b", re.I),
     _PERSON, False),
    (re.compile(r"\bhow (?:many|much)\b|\bwhat (?:percentage|share|proportion|range)\b", re.I), _QUANTITY, True),
]


def answer_type(question: str) -> tuple[re.Pattern, set[str]] | None:
    """The shape of the answer a question asks for: "How quickly ...?" wants a duration, "Who came up with
    ...?" a person's name, "When ...?" a year, "How many ...?" a number; with the question's terms that such an
    answer satisfies ("quick"). None when the question does not say."""
    for asks, gives, answered in _ANSWER_TYPES:
        m = asks.search(question)
        if m:
            return gives, (aspect_terms(m.group(0)) if answered else set())
    return None


def acronym_terms(acronyms: Mapping[str, str] | None) -> dict[str, frozenset[str]]:
    """{"clv": {"custom", "lifetim", "valu"}}: each acronym's term with the terms of its long form."""
    table: dict[str, frozenset[str]] = {}
    for acro, long in (acronyms or {}).items():
        key, spelled = terms(acro), frozenset(aspect_terms(long))
        if len(key) == 1 and len(spelled) > 1:
            table[key[0]] = spelled
    return table


def fold_acronyms(ts: set[str], table: Mapping[str, frozenset[str]]) -> set[str]:
    """Terms of a text that says "CLV" gain "customer lifetime value", and the other way round."""
    for acro, spelled in table.items():
        if acro in ts:
            ts |= spelled
        elif spelled <= ts:
            ts.add(acro)
    return ts


def _names_pair(sentence: str, sides: tuple[str, str]) -> bool:
    """Does the sentence name the two sides only as a pair ("X-data and O-data examples ...")?"""
    a, b = (re.escape(x.lower()) for x in sides)
    joined = rf"(?:{a})\W+(?:and|or|&|vs\.?|versus)\W+(?:{b})|(?:{b})\W+(?:and|or|&|vs\.?|versus)\W+(?:{a})"
    lowered = sentence.lower()
    mentions = len(re.findall(a, lowered)) + len(re.findall(b, lowered))
    return bool(re.search(joined, lowered)) and mentions <= 2


# ---------------------------------------------------------------- answerers

class Answerer:
    """Turns a question and retrieved passages into an Answer. Implement `answer`."""

    name = "answerer"

    def answer(self, question: str, passages: Sequence[Passage], term_weights: dict[str, float] | None = None,
               acronyms: Mapping[str, str] | None = None) -> Answer:
        """`term_weights`: how much each question term matters; `acronyms`: the corpus's acronyms and their
        long forms ({"clv": "customer lifetime value"}), so that either form matches the other."""
        raise NotImplementedError  # pragma: no cover - interface

    def stream(self, question: str, passages: Sequence[Passage], term_weights: dict[str, float] | None = None,
               acronyms: Mapping[str, str] | None = None) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the final Answer. Default: the whole answer, word by word."""
        result = self.answer(question, passages, term_weights, acronyms)
        for piece in re.findall(r"\S+\s*", result.text):
            yield piece
        yield result


@dataclass(frozen=True)
class ExtractiveSettings:
    max_sentences: int = 5
    max_words: int = 130
    list_words: int = 150  # a list the answer needs may run a little longer
    passages_read: int = 5
    min_overlap: float = 0.2  # a sentence from a second passage must cover this share of the question
    short_answer_words: int = 45  # below this, the answer is filled out from the next passage
    heading_weight: float = 0.5  # how much a passage's heading matching the question counts
    sentence_weight: float = 0.25  # how much a passage's best sentence counts
    answer_weight: float = 0.1  # how much of the question the answer drawn from a passage would cover
    shared_discount: float = 0.8  # question terms every passage shares tell little about which one answers
    rank_penalty: float = 0.015  # per place in the retrieval order
    type_weight: float = 0.2  # a sentence that gives the kind of answer asked for (a duration, a name)


@dataclass
class _Sentence:
    text: str
    passage: int
    position: int
    is_item: bool
    terms: set[str]
    score: float = 0.0
    typed: bool = False  # gives the kind of answer the question asks for (a duration, a name ...)


class ExtractiveAnswerer(Answerer):
    """Composes an answer from the passages' own sentences; no language model needed.

    The best-matching passage supplies the core of the answer (its leading sentences, which in well-written
    material state the point, plus the sentences that match the question best); a list it introduces is
    kept whole. A sentence from another passage is added only when it covers part of the question the
    first passage does not.
    """

    name = "extractive"

    def __init__(self, settings: ExtractiveSettings = ExtractiveSettings()):
        self.settings = settings
        self._acronyms: tuple[Mapping[str, str] | None, dict[str, frozenset[str]]] = (None, {})

    def _acronym_table(self, acronyms: Mapping[str, str] | None) -> dict[str, frozenset[str]]:
        """The table for `acronyms`, built once per mapping (a retriever keeps one for its lifetime)."""
        cached = self._acronyms
        if cached[0] is not acronyms:
            cached = self._acronyms = (acronyms, acronym_terms(acronyms))
        return cached[1]

    def answer(self, question, passages, term_weights=None, acronyms=None):
        s = self.settings
        table = self._acronym_table(acronyms)

        def fold(ts: set[str]) -> set[str]:
            return fold_acronyms(ts, table)

        weights: dict[str, float] = {}
        for t, w in (term_weights or {t: 1.0 for t in terms(question)}).items():
            key = aspect(t)
            weights[key] = max(weights.get(key, 0.0), w)
        total = sum(weights.values()) or 1.0

        def coverage(ts: set[str]) -> float:
            return sum(w for t, w in weights.items() if t in ts) / total

        read = list(passages[: s.passages_read])
        if not read:
            return Answer(question, "", True, backend=self.name)
        sides = comparison_sides(question)
        if sides:
            contrast = self._compare(question, sides, list(passages), fold)
            if contrast is not None:
                return contrast
        # which passage answers: the question terms that every passage shares count less
        shared = [fold(aspect_terms(p.section + " " + p.text)) for p in read]
        telling = {t: w * (1 - s.shared_discount * sum(t in x for x in shared) / len(shared)) for t, w in weights.items()}
        telling_total = sum(telling.values()) or 1.0

        def focus(ts: set[str]) -> float:
            return sum(w for t, w in telling.items() if t in ts) / telling_total

        top = max(p.score for p in read) or 1.0
        wanted, answered = answer_type(question) or (None, set())
        units: list[list[_Sentence]] = []
        picks: list[list[_Sentence]] = []  # the answer each passage would give on its own
        passage_value: list[float] = []
        for pi, p in enumerate(read):
            blocks = sentence_blocks(p.text)
            sents = [_Sentence(text, pi, j, item, fold(aspect_terms(text))) for j, (text, item, _) in enumerate(blocks)]
            for sent in sents:
                if wanted is not None and wanted.search(sent.text):
                    sent.terms |= answered
                    sent.typed = True
            # paragraphs: a sentence in a paragraph about the question, near its start, is worth more
            para, in_para, para_terms = [], [], []
            for sent, (_, _, opens) in zip(sents, blocks):
                if opens and not (sent.is_item and para):
                    para_terms.append(set())
                    count = 0
                para.append(len(para_terms) - 1)
                in_para.append(count)
                count += 1
                para_terms[-1] |= sent.terms
            several = len(para_terms) > 1
            for k, sent in enumerate(sents):
                if several:
                    lead = (0.3 if sent.position == 0 else 0.2 if in_para[k] == 0 else 0.1 if in_para[k] == 1 else 0.0)
                    context = 0.4 * coverage(para_terms[para[k]])
                else:
                    lead = 0.3 if sent.position == 0 else 0.15 if sent.position == 1 else 0.0
                    context = 0.0
                sent.score = (0.55 * coverage(sent.terms) + context + lead
                              + (s.type_weight if sent.typed else 0.0)
                              - (0.1 if len(sent.text.split()) > 55 else 0.0))
            units.append(sents)
            best_sentence = max((x.score for x in sents), default=0.0)
            picks.append(self._pick(sents, s))
            own_answer = set().union(*(x.terms for x in picks[-1]))
            passage_value.append(p.score / top + s.heading_weight * focus(fold(aspect_terms(p.section)))
                                 + s.sentence_weight * best_sentence + s.answer_weight * focus(own_answer)
                                 - s.rank_penalty * pi)
        primary = max(range(len(read)), key=lambda i: passage_value[i])
        chosen = list(picks[primary])
        covered = set().union(*(x.terms for x in chosen)) if chosen else set()
        words_used = sum(len(x.text.split()) for x in chosen)
        # one supporting sentence from another passage when it adds coverage of the question
        if len(chosen) < s.max_sentences + 1:
            extra = None
            gain_best = 0.0
            for pi, sents in enumerate(units):
                if pi == primary or passage_value[pi] < 0.75 * passage_value[primary]:
                    continue
                for sent in sents:
                    gain = coverage(sent.terms - covered)
                    if (gain > gain_best and coverage(sent.terms) >= s.min_overlap and not sent.is_item
                            and words_used + len(sent.text.split()) <= s.list_words
                            and all(jaccard(sent.terms, c.terms) < 0.5 for c in chosen)):
                        extra, gain_best = sent, gain
            if extra is not None and gain_best >= 0.15:
                chosen.append(extra)
                words_used += len(extra.text.split())
        # a very short answer (a glossary entry, say) is filled out from the next passage on the question
        if chosen and words_used < s.short_answer_words:
            rest = [pi for pi in sorted(range(len(read)), key=lambda i: -passage_value[i])
                    if pi != primary and read[pi].source != read[primary].source
                    and passage_value[pi] >= 0.75 * passage_value[primary]]
            if rest:
                for sent in self._pick(units[rest[0]], s):
                    n = len(sent.text.split())
                    if words_used + n <= s.max_words and all(jaccard(sent.terms, c.terms) < 0.4 for c in chosen):
                        chosen.append(sent)
                        words_used += n
        if not chosen:
            return Answer(question, "", True, backend=self.name)
        order = {primary: 0}
        for c in chosen:
            order.setdefault(c.passage, len(order))
        chosen.sort(key=lambda c: (order[c.passage], c.position))
        text, citations = compose([(c.text, c.passage) for c in chosen], read)
        return Answer(question, text, False, citations, backend=self.name)

    def _compare(self, question: str, sides: tuple[str, str], passages: list[Passage],
                 fold: Callable[[set[str]], set[str]]) -> Answer | None:
        """Answer 'difference between A and B' with what the passages say of A, then of B; a passage that
        already contrasts the two is used on its own."""
        side_terms = [fold(set(terms(x))) for x in sides]
        top = max(p.score for p in passages) or 1.0

        def cover(ts: set[str], wanted: set[str]) -> float:
            return len(ts & wanted) / len(wanted)

        best_both, both_value = None, 0.0
        picks: list[int | None] = [None, None]
        values = [0.0, 0.0]
        for pi, p in enumerate(passages):
            head = fold(set(terms(p.section or p.title)))
            lead = fold(set(terms(" ".join(x for x, _ in sentence_units(p.text)[:1]))))
            both = min(cover(head, side_terms[0]), cover(head, side_terms[1]))
            if both >= 0.6 and p.score / top > both_value and re.search(r"differ|versus|\bvs\b|compar", p.section, re.I):
                best_both, both_value = pi, p.score / top
            for k in (0, 1):
                mine, other = side_terms[k], side_terms[1 - k]
                value = (0.5 * cover(head | lead, mine) + 0.3 * cover(head, mine) - 0.3 * cover(head, other - mine)
                         + 0.4 * p.score / top)
                if value > values[k]:
                    values[k], picks[k] = value, pi
        if best_both is not None or picks[0] is None or picks[1] is None or picks[0] == picks[1]:
            return None  # a passage compares them already, or the sides are not told apart: answer normally
        picked: list[tuple[str, int]] = []
        for pi in picks:
            units = [x for x, item in sentence_units(passages[pi].text) if not x.endswith(":")]
            words = 0
            for sentence in units[:2]:
                if words >= 20:
                    break
                picked.append((sentence, pi))
                words += len(sentence.split())
        # sentences that set the two side by side: one that says something of each side ("O-data shows what
        # happened, and X-data shows why"), in a passage about both, beats one that only names the pair
        candidates = []
        for pi, p in enumerate(passages):
            head = fold(set(terms(p.section or p.title)))
            about_both = min(cover(head, side_terms[0]), cover(head, side_terms[1]))
            for position, (sentence, _) in enumerate(sentence_units(p.text)):
                ts = fold(set(terms(sentence)))
                if (sentence, pi) not in picked and cover(ts, side_terms[0]) >= 0.99 and cover(ts, side_terms[1]) >= 0.99 \
                        and not sentence.endswith(":") and len(sentence.split()) <= 45:
                    says_each = not _names_pair(sentence, sides)
                    candidates.append((-(2 * says_each + about_both), pi, position, says_each, sentence))
        words = sum(len(x.split()) for x, _ in picked)
        used: set[int] = set()
        for _, pi, _, says_each, sentence in sorted(candidates):
            # a second one only when it says something of each side, from another passage, and fits
            if used and (pi in used or not says_each or words + len(sentence.split()) > self.settings.max_words):
                continue
            picked.append((sentence, pi))
            words += len(sentence.split())
            used.add(pi)
            if len(used) == 2:
                break
        text, citations = compose(picked, passages)
        return Answer(question, text, False, citations, backend=self.name)

    @staticmethod
    def _pick(sents: list[_Sentence], s: ExtractiveSettings) -> list[_Sentence]:
        """The best sentences of one passage, in the passage's order, keeping any list they introduce."""
        usable = [x for x in sents if len(x.text.split()) >= 3]
        chosen: list[_Sentence] = []
        words_used = 0
        for sent in sorted(usable, key=lambda x: -x.score):
            if len(chosen) >= s.max_sentences:
                break
            n = len(sent.text.split())
            if words_used + n > s.max_words and chosen:
                continue
            if any(jaccard(sent.terms, c.terms) > 0.6 for c in chosen):
                continue
            chosen.append(sent)
            words_used += n
        # a list item or a list's introduction pulls in the whole list, when it fits
        picked = {c.position for c in chosen}
        for c in list(chosen):
            nxt = sents[c.position + 1] if c.position + 1 < len(sents) else None
            if c.is_item or (nxt is not None and nxt.is_item and not c.is_item):
                start = c.position if not c.is_item else c.position
                while start > 0 and sents[start].is_item:
                    start -= 1
                block = [start] if not sents[start].is_item else []
                j = start + 1 if not sents[start].is_item else start
                while j < len(sents) and sents[j].is_item:
                    block.append(j)
                    j += 1
                extra = [sents[j] for j in block if j not in picked]
                if words_used + sum(len(x.text.split()) for x in extra) <= s.list_words:
                    chosen.extend(extra)
                    picked.update(x.position for x in extra)
                    words_used += sum(len(x.text.split()) for x in extra)
        chosen.sort(key=lambda x: x.position)
        # a sentence skipped between two chosen ones ("Level 1 ..., Level 3 ...") is put back when it fits
        for a, b in zip(list(chosen), list(chosen)[1:]):
            if b.position - a.position == 2:
                gap = sents[a.position + 1]
                if words_used + len(gap.text.split()) <= s.list_words:
                    chosen.append(gap)
                    words_used += len(gap.text.split())
        chosen.sort(key=lambda x: x.position)
        # a list's introduction whose items did not fit says nothing on its own
        return [c for k, c in enumerate(chosen)
                if not c.text.endswith(":") or (k + 1 < len(chosen) and chosen[k + 1].is_item)]


def decline_text(question: str, topics: Sequence[str]) -> str:
    text = "I can't answer that from the knowledge base: none of its documents covers this question."
    if topics:
        listed = ", ".join(topics[:-1]) + (" or " if len(topics) > 1 else "") + topics[-1]
        text += f" Try asking about {listed}."
    return text
