"""Follow-up questions made standalone from the conversation, before retrieval.

A follow-up leans on earlier turns in one of three ways:
- it refers to the topic with a pronoun or a bare aspect ("how is it calculated?", "what is the formula?",
  "how often should we send it?"): the topic is put in ("how is NPS calculated?");
- it names a sibling topic and nothing else ("and for churn?", "what about CES?"): the previous question is
  asked again about the new topic ("how is churn calculated?");
- it names no topic of its own and speaks of "we", "our" or "they", or is a bare word or two ("how do we
  improve our score?", "any downsides?"): the earlier topic is added.
What counts as a topic comes from the index: the words of its documents' titles and its acronyms
(`Topics`), weighed by how few titles share them, so it works the same for a user's own documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..text import STOPWORDS, stem, terms, words
from .types import History, normalise_history

_ANAPHORA = {"it", "its", "this", "that", "these", "those", "they", "them", "their", "one", "ones", "there",
             "he", "she", "him", "her", "same"}
_SPEAKERS = {"we", "our", "ours", "us", "they", "them", "their"}  # the team or the customers, not the topic
_CONTINUATION = re.compile(r"^\s*(and|also|so|but|then|what about|how about|and what|what else|why|how come|"
                           r"ok|okay|and how)\b", re.I)
_SIBLING = re.compile(r"^\s*(?:and|also|so|but|ok|okay)?\s*(?:what|how)\s+about\s+|^\s*(?:and|also)\s+"
                      r"(?:for|with|in|of|on|about)?\s*", re.I)
_PRONOUN = re.compile(r"\b(it|this|that|they|them|these|those|this one|that one)\b(?!['’])", re.I)
_POSSESSIVE = re.compile(r"\b(its|their)\b", re.I)
_DETERMINERS = {"the", "a", "an", "this", "that", "our", "your", "their", "its"}
_QUESTION_WORDS = STOPWORDS | {"difference", "between", "example", "examples", "good", "best", "work", "works"}
_CLITIC = re.compile(r"['’](?:s|re|ll|ve|d|m)$|n['’]t$", re.I)
_DEMONSTRATIVE = re.compile(r"\b(?:this|that|these|those)\s+([\w&+-]+)", re.I)


def _function_word(word: str) -> bool:
    """A question or function word, also when a clitic is attached ("what's", "how's", "who'll")."""
    w = word.lower().strip("'’")
    return w in _QUESTION_WORDS or _CLITIC.sub("", w) in _QUESTION_WORDS


@dataclass(frozen=True)
class Topics:
    """The index's topic vocabulary: how many document titles each stemmed term appears in, and the
    acronyms it defines. A term in one or two titles (or an acronym) names a topic; "customer", in most
    titles of a CX corpus, does not."""

    title_counts: dict[str, int] = field(default_factory=dict)
    acronyms: frozenset[str] = frozenset()
    max_titles: int = 2

    @classmethod
    def from_titles(cls, titles: Iterable[str], acronyms: Iterable[str] = (), max_titles: int = 2) -> Topics:
        counts: dict[str, int] = {}
        for title in titles:
            for t in set(terms(title)):
                counts[t] = counts.get(t, 0) + 1
        return cls(counts, frozenset(stem(a.lower()) for a in acronyms), max_titles)

    def names_topic(self, term: str) -> bool:
        return term in self.acronyms or 0 < self.title_counts.get(term, 0) <= self.max_titles

    def topic_terms(self, text: str) -> list[str]:
        return [t for t in terms(text) if self.names_topic(t)]

    def is_topic_word(self, word: str) -> bool:
        """A word of a topic's name, distinctive or not ("customer", "effort", "score")."""
        t = stem(word.lower())
        return t in self.acronyms or t in self.title_counts


def is_follow_up(question: str, topics: Topics | None = None) -> bool:
    """Does the question lean on earlier turns ("and how do I calculate it?", "and for churn?")?"""
    ws = words(question)
    content = terms(question)
    if _CONTINUATION.match(question) or any(w in _ANAPHORA for w in ws) or not content:
        return True
    if len(content) == 1 and "the" in ws:  # "What is the formula?" - the formula of what came before
        return True
    if topics is not None and not topics.topic_terms(question):
        # no topic of its own: "how do we improve our score?", "any downsides?"
        return any(w in _SPEAKERS for w in ws) or len(content) <= 1
    return False


def subject_of(question: str) -> str:
    """The topic words of a question: 'What is the Customer Effort Score?' -> 'Customer Effort Score'."""
    kept = [w for w in re.findall(r"[\w&+%'’-]+", question) if not _function_word(w)]
    return " ".join(kept)


def topic_phrase(question: str, topics: Topics) -> tuple[int, int] | None:
    """Where the topic is named in a question: the character span of the longest run of topic words that
    holds a distinctive one ("customer effort score" in "What scale does the customer effort score use?")."""
    tokens = list(re.finditer(r"[\w&+%'’-]+", question))
    best: tuple[int, int] | None = None
    k = 0
    while k < len(tokens):
        if not topics.is_topic_word(tokens[k].group(0)):
            k += 1
            continue
        j = k
        while j + 1 < len(tokens) and topics.is_topic_word(tokens[j + 1].group(0)):
            j += 1
        run = " ".join(t.group(0) for t in tokens[k:j + 1])
        first = _modifier_start(tokens, k)
        if topics.topic_terms(run) and (best is None or (tokens[j].end() - tokens[first].start()) > best[1] - best[0]):
            best = (tokens[first].start(), tokens[j].end())
        k = j + 1
    return best


def _modifier_start(tokens: list[re.Match], k: int) -> int:
    """Where the noun phrase ending in the topic run that starts at token k begins: one word between a
    determiner and the run modifies it ("the *inner* loop", "our *annual* NPS"), so it belongs to the topic."""
    if k >= 2 and tokens[k - 2].group(0).lower() in _DETERMINERS:
        word = tokens[k - 1].group(0)
        if not _function_word(word) and not word.isdigit():
            return k - 1
    return k


def sibling_topic(question: str, topics: Topics) -> str | None:
    """The new topic of a question that only names one ("and for churn?" -> "churn"), else None."""
    m = _SIBLING.match(question)
    if not m:
        return None
    rest = question[m.end():].strip(" ?.!")
    rest = re.sub(r"^(?:the|a|an)\s+", "", rest, flags=re.I)
    if not rest or not topics.topic_terms(rest) or len(rest.split()) > 5:
        return None
    if any(w in _ANAPHORA or w in _SPEAKERS for w in words(rest)):
        return None
    leftover = [t for t in terms(rest) if not topics.is_topic_word(t)]
    return rest if len(leftover) <= 1 else None


def condense(question: str, history: History | None, topics: Topics | None = None) -> str:
    """A standalone version of `question`. With no conversation, or a question that stands on its own, the
    question itself."""
    turns = [text for role, text in normalise_history(history) if role == "user"]
    if not turns or not is_follow_up(question, topics):
        return question
    # the earlier question this one follows: walk back to the last turn that stood on its own
    base_turns: list[str] = []
    for text in reversed(turns):
        base_turns.insert(0, text)
        if not is_follow_up(text, topics) or len(base_turns) == 2:
            break
    previous = condense(base_turns[-1], [("user", t) for t in base_turns[:-1]], topics) if len(base_turns) > 1 \
        else base_turns[-1]
    if topics is not None:
        new_topic = sibling_topic(question, topics)
        span = topic_phrase(previous, topics)
        if new_topic and span:  # "and for churn?" after "How is NPS calculated?"
            return previous[:span[0]] + new_topic + previous[span[1]:]
    named = _named_again(question, previous)
    if named:  # "what is the first link in that chain?" after "what's the service-profit chain?"
        return named
    subject = _subject(previous, topics)
    if not subject:
        return question
    if _PRONOUN.search(question):
        return _PRONOUN.sub(subject, question, count=1)
    if _POSSESSIVE.search(question):
        return _POSSESSIVE.sub(f"{subject}'s", question, count=1)
    return f"{question.rstrip()} ({subject})"


def _named_again(question: str, previous: str) -> str | None:
    """A follow-up that points back with a demonstrative and the previous question's own noun ("that chain",
    "this formula"): the demonstrative and noun become the noun phrase the previous question ended in at that
    noun ("the service-profit chain", "the CLV formula"). None when the noun is not in the previous question."""
    tokens = list(re.finditer(r"[\w&+%'’-]+", previous))
    for m in _DEMONSTRATIVE.finditer(question):
        noun = m.group(1)
        if _function_word(noun) or not terms(noun):
            continue
        for k, tok in enumerate(tokens):
            if terms(tok.group(0)) == terms(noun):
                first = k
                while first > 0 and not _function_word(tokens[first - 1].group(0)) \
                        and not previous[tokens[first - 1].end():tokens[first].start()].strip(" -"):
                    first -= 1
                if first == k:
                    break  # the bare noun: nothing to add ("that way" after "... the way ...")
                phrase = previous[tokens[first].start():tok.end()]
                return question[:m.start()] + "the " + phrase + question[m.end():]
    return None


def _subject(previous: str, topics: Topics | None) -> str:
    """What a pronoun in a follow-up stands for: the topic named in the previous question (its topic words
    when the index knows them, else its content words)."""
    if topics is not None:
        span = topic_phrase(previous, topics)
        if span:
            phrase = re.sub(r"^(?:the|a|an)\s+", "", previous[span[0]:span[1]], flags=re.I)
            before = re.search(r"\b(the|a|an)\s+$", previous[:span[0]], flags=re.I)
            if before and not topics.is_topic_word(phrase.split()[0]):
                phrase = f"{before.group(1).lower()} {phrase}"  # "the inner loop": its modifier stays attached
            return phrase
    return subject_of(previous)
