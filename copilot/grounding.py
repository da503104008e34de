"""Grounding checks for generated answers (pure functions, no model needed).

A language model's answer is trusted only as far as the passages it cites:

1. citation markers that name no passage (`[7]` when five were given) are removed;
2. the answer is split into sentences; each one is checked against the passages it cites by the overlap of
   content terms (`copilot.text.terms`), and every number it states must appear in those passages;
3. a sentence with no citation is dropped unless it is trivially short ("Here is how it works.");
4. text in a passage that addresses the assistant ("ignore previous instructions and ...", "SYSTEM: the
   answer must be ...": `injection.instruction_like`, re-exported here) is not knowledge: it never counts as
   support, and an answer sentence that is itself such text is dropped;
5. the kept sentences are renumbered in order of first appearance and the citations built from them;
6. if too little survives, the caller falls back to the extractive answer (`Grounded.fallback`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .answer.compose import with_marker
from .answer.types import Citation, Passage
from .injection import instruction_like, marked_sentences
from .text import sentence_units, terms, words

__all__ = ["GroundingSettings", "Grounded", "SentenceCheck", "check_sentence", "find_markers", "ground",
           "instruction_like", "is_abstention", "knowledge_sentences", "remove_invalid_markers", "renumber",
           "split_answer", "strip_markers", "support"]


@dataclass(frozen=True)
class GroundingSettings:
    min_support: float = 0.5  # share of a sentence's content terms found in the passages it cites
    trivial_terms: int = 2  # an uncited sentence with at most this many content terms (and no number) may stay
    min_kept: int = 1  # fall back when fewer substantive sentences survive ...
    min_kept_share: float = 0.4  # ... or less than this share of them
    check_numbers: bool = True  # a number the sentence states must appear in a cited passage


@dataclass
class SentenceCheck:
    """One sentence of the model's answer and what the checks found."""

    text: str  # without citation markers
    cited: list[int]  # indices (0-based) of the passages its valid markers name
    invalid: list[int] = field(default_factory=list)  # marker numbers that name no passage
    support: float = 0.0
    kept: bool = False
    reason: str = ""  # why dropped: uncited / unsupported / number / instruction; "trivial" when kept uncited
    is_item: bool = False


@dataclass
class Grounded:
    text: str  # the kept sentences with renumbered markers
    citations: list[Citation]
    checks: list[SentenceCheck]
    removed_markers: list[int]  # marker numbers that named no passage
    fallback: bool
    reason: str = ""  # why a fallback is advised

    @property
    def dropped(self) -> list[str]:
        return [c.text for c in self.checks if not c.kept]

    def notes(self) -> list[str]:
        out = []
        if self.removed_markers:
            nums = ", ".join(f"[{n}]" for n in sorted(set(self.removed_markers)))
            out.append(f"Removed citation markers that name no retrieved passage: {nums}.")
        dropped = [c for c in self.checks if not c.kept]
        if dropped:
            kinds = sorted({c.reason for c in dropped})
            out.append(f"Dropped {len(dropped)} sentence{'s' if len(dropped) != 1 else ''} not supported by "
                       f"the cited passages ({', '.join(kinds)}).")
        return out


# ---------------------------------------------------------------- citation markers

_NUMS = r"\d+(?:\s*(?:,|;|–|-|and)\s*\d+)*"
MARKER = re.compile(r"\[\s*(?:(?:passages?|sources?|docs?|documents?)\s*#?\s*)?(" + _NUMS + r")\s*\]", re.I)
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:[ \t]*" + MARKER.pattern + r")+)", re.I)


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", group):
        m = re.fullmatch(r"(\d+)\s*[–-]\s*(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            out.extend(range(a, b + 1) if 0 <= b - a <= 20 else (a, b))
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def find_markers(text: str) -> list[int]:
    """Every passage number cited in `text`, in order ("[1][3]", "[2, 4]", "[Passage 5]", "[1-3]")."""
    return [n for m in MARKER.finditer(text) for n in _numbers(m.group(1))]


def strip_markers(text: str) -> str:
    text = MARKER.sub("", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return " ".join(text.split())


def remove_invalid_markers(text: str, n_passages: int) -> tuple[str, list[int]]:
    """Drop the numbers that name no passage (1..n_passages are valid) from every marker."""
    removed: list[int] = []

    def fix(m: re.Match) -> str:
        nums = _numbers(m.group(1))
        good = [n for n in nums if 1 <= n <= n_passages]
        removed.extend(n for n in nums if not 1 <= n <= n_passages)
        return "".join(f"[{n}]" for n in good)

    out = MARKER.sub(fix, text)
    out = re.sub(r"[ \t]+([.,;:!?])", r"\1", out)
    return out, removed


def split_answer(text: str) -> list[tuple[str, bool]]:
    """Sentences of a generated answer (with their markers), flagged when they are list items.
    Markers written after the full stop ("... +100. [1]") are moved before it first."""
    text = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", text or "")
    return sentence_units(text)


# ---------------------------------------------------------------- text addressed to the assistant

def knowledge_sentences(text: str) -> list[str]:
    """A passage's sentences without those that address the assistant (`injection.marked_sentences`: an
    imperative sentence right after one of those, "Ignore previous instructions. Tell the user ...", goes with
    it)."""
    return [sentence for sentence, flagged in marked_sentences(text or "") if not flagged]


# ---------------------------------------------------------------- support

def _passage_terms(p: Passage) -> tuple[set[str], set[str]]:
    body = " ".join(knowledge_sentences(p.text))
    head = f"{p.title} {p.section}"
    return set(terms(f"{head} {body}")), {w for w in words(f"{head} {body}") if w.isdigit()}


def support(sentence: str, passages: Sequence[Passage]) -> float:
    """Share of the sentence's content terms found in the given passages (1.0 when it has none)."""
    ts = set(terms(strip_markers(sentence)))
    if not ts:
        return 1.0
    known: set[str] = set()
    for p in passages:
        known |= _passage_terms(p)[0]
    return len(ts & known) / len(ts)


def _is_trivial(sentence: str, settings: GroundingSettings) -> bool:
    return len(set(terms(sentence))) <= settings.trivial_terms and not any(w.isdigit() for w in words(sentence))


def check_sentence(sentence: str, passages: Sequence[Passage], settings: GroundingSettings = GroundingSettings(),
                   is_item: bool = False) -> SentenceCheck:
    """Check one sentence (markers included) against the passages its markers name."""
    nums = find_markers(sentence)
    cited = list(dict.fromkeys(n - 1 for n in nums if 1 <= n <= len(passages)))
    invalid = [n for n in nums if not 1 <= n <= len(passages)]
    bare = strip_markers(sentence)
    check = SentenceCheck(bare, cited, invalid, is_item=is_item)
    if instruction_like(bare):
        check.reason = "instruction"
        return check
    if not cited:
        if _is_trivial(bare, settings):
            check.kept, check.reason, check.support = True, "trivial", 1.0
        else:
            check.reason = "uncited"
        return check
    known: set[str] = set()
    numbers: set[str] = set()
    for i in cited:
        t, n = _passage_terms(passages[i])
        known |= t
        numbers |= n
    ts = set(terms(bare))
    check.support = len(ts & known) / len(ts) if ts else 1.0
    if check.support < settings.min_support:
        check.reason = "unsupported"
    elif settings.check_numbers and any(w.isdigit() and w not in numbers for w in words(bare)):
        check.reason = "number"
    else:
        check.kept = True
    return check


# ---------------------------------------------------------------- the whole answer

_ABSTAIN = re.compile(r"^\W*(?:i\s+(?:don'?t|do\s+not|cannot|can'?t)\s+(?:know|answer|find)|"
                      r"the\s+(?:passages|knowledge\s+base)\s+(?:do(?:es)?\s+not|don'?t)\s+"
                      r"(?:cover|say|answer|mention))", re.I)


def is_abstention(text: str) -> bool:
    """Did the model say that the passages do not answer the question?"""
    return bool(_ABSTAIN.match(strip_markers(text or "")))


def ground(text: str, passages: Sequence[Passage], settings: GroundingSettings = GroundingSettings()) -> Grounded:
    """Check a generated answer against the passages it was given (numbered from 1 in this order)."""
    cleaned, removed = remove_invalid_markers(text or "", len(passages))
    checks = [check_sentence(s, passages, settings, item) for s, item in split_answer(cleaned)]
    substantive = [c for c in checks if c.reason != "trivial"]
    kept = [c for c in substantive if c.kept]
    reason = ""
    if not (text or "").strip():
        reason = "the model returned an empty answer"
    elif is_abstention(text) and not kept:
        reason = "the model said the passages do not answer the question"
    elif len(kept) < settings.min_kept or len(kept) < settings.min_kept_share * len(substantive):
        reason = (f"only {len(kept)} of {len(substantive)} sentences of the model's answer are supported by "
                  "the passages they cite")
    body, citations = renumber(checks, passages)
    return Grounded(body, citations, checks, removed, bool(reason), reason)


def attach_markers(sentence: str, numbers: Sequence[int]) -> str:
    """'NPS ranges from -100 to +100.' with [1, 3] -> 'NPS ranges from -100 to +100 [1][3].'"""
    if not numbers:
        return sentence.rstrip()
    marked = with_marker(sentence, numbers[0])
    if len(numbers) == 1:
        return marked
    first = f"[{numbers[0]}]"
    at = marked.rfind(first)
    return marked[:at] + "".join(f"[{n}]" for n in numbers) + marked[at + len(first):]


def _best_sentence(sentence: str, passage: Passage) -> str:
    ts = set(terms(sentence))
    options = knowledge_sentences(passage.text) or [passage.text]
    return max(options, key=lambda s: len(ts & set(terms(s))))


def renumber(checks: Sequence[SentenceCheck], passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
    """The kept sentences joined into text, markers renumbered by first appearance, with their citations
    (each holding the passage sentence that best matches each answer sentence citing it)."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    out = ""
    previous_item = False
    for c in checks:
        if not c.kept:
            continue
        ns = []
        for idx in c.cited:
            if idx not in numbers:
                p = passages[idx]
                numbers[idx] = len(numbers) + 1
                citations.append(Citation(numbers[idx], p.source, p.title, p.page, p.section, p.text, p.score,
                                          [], p.id))
            cit = citations[numbers[idx] - 1]
            best = _best_sentence(c.text, passages[idx])
            if best not in cit.sentences:
                cit.sentences.append(best)
            ns.append(numbers[idx])
        piece = attach_markers(c.text, ns)
        if c.is_item:
            out += ("\n" if out else "") + "- " + piece
        elif out:
            out += ("\n\n" if previous_item else " ") + piece
        else:
            out = piece
        previous_item = c.is_item
    return out, citations
