"""The signals answers are chosen on, per sentence of an article: the query's words (idf-weighted,
stemmed as the lexical index stems them), the sentence's place, and question cues; plus the
cosine of the sentence vectors to the query, how the signals are combined, and when a sentence
is answered together with a neighbour."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.lexical import STOPWORDS, analyzer

if TYPE_CHECKING:
    import numpy as np



class Stemmer:
    """Porter stems of lowercased words, as the index's analyzer makes them, cached."""

    def __init__(self):
        from whoosh.lang.porter import stem

        self._stem = stem
        self._cache: dict[str, str | None] = {}

    def __call__(self, word: str) -> str | None:
        """The stem of `word` (already lowercased), or None for stop words and single letters."""
        found = self._cache.get(word, False)
        if found is False:
            found = None if len(word) < 2 or word in STOPWORDS else self._stem(word)
            self._cache[word] = found
        return found


class Idf:
    """Inverse document frequency of stemmed words over the lexical index's passages."""

    def __init__(self, frequencies):
        """`frequencies`: the backend's (search/retrieval/backend.py Frequencies)."""
        self._reader = frequencies
        self._n = max(self._reader.doc_count(), 1)
        self._cache: dict[str, float] = {}

    def weights(self, terms: set[str]) -> dict[str, float]:
        out = {}
        for term in terms:
            if term not in self._cache:
                df = self._reader.doc_frequency("body", term)
                self._cache[term] = math.log(1 + (self._n - df + 0.5) / (df + 0.5))
            out[term] = self._cache[term]
        return out


def query_terms(query: str) -> set[str]:
    return {t.text for t in analyzer()(query)}


# --- question cues ---------------------------------------------------------------------------

_KINDS = [
    ("who", re.compile(r"^\s*(who|whom|whose)\b|^\s*which (person|man|woman|company|firm|group|minister|official|body)\b")),
    ("when", re.compile(r"^\s*(when|what (year|day|date|month|time))\b|^\s*how (long|soon)\b")),
    ("number", re.compile(r"^\s*(how (much|many|big|large|high|low|fast|quick|far|old|often|long)|what (percentage|share|proportion|price|amount|sum|figure))\b")),
    ("where", re.compile(r"^\s*(where|which (country|city|town|place|venue))\b")),
    ("why", re.compile(r"^\s*why\b")),
]

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_CUES = {
    "who": re.compile(
        r"(?i:\b(said|says|told|proposed|announced|added|urged|warned|argued|claimed|called for|according to|"
        r"spokes(man|woman|person)|secretary|minister|president|chairman|chief|director|leader|boss|judge)\b)"
        r"|\b(Mr|Mrs|Ms|Dr)\b|(?<=\w )[A-Z][a-z]+ [A-Z][a-z]+"),
    "when": re.compile(rf"(?i)\b({_MONTHS}|{_DAYS}|yesterday|today|tomorrow|tonight|(next|last|this) "
                       r"(week|month|year|season|summer|winter|spring|autumn)|(19|20)\d\d|\d+ (days|weeks|months|years))\b"),
    "number": re.compile(r"(?i)\d|[£$€%]|\b(million|billion|thousand|hundred|dozen|half|third|quarter|"
                         r"one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|double|triple)\b"),
    "where": re.compile(r"\b(in|at|from|near|outside) (the )?[A-Z][a-z]+"),
    "why": re.compile(r"(?i)\b(because|due to|after|over|as a result|since|so that|in order to|"
                      r"amid|following|blamed|reason|caused|led to)\b"),
}


def question_kind(query: str) -> str | None:
    """"who", "when", "number", "where" or "why" for questions that ask for one; else None."""
    text = query.lower()
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return None


# --- per-sentence signals ----------------------------------------------------------------------

@dataclass
class Signals:
    """Per sentence: the share of the query's idf its words hold, 1 for the lead, 1 for the
    second sentence, 1 when it has what the question asks for."""

    lexical: np.ndarray
    lead: np.ndarray
    second: np.ndarray
    cue: np.ndarray
    question: str | None


def signals(text: str, offsets, idf: dict[str, float], question: str | None, stems: Stemmer) -> Signals:
    import numpy as np

    n = len(offsets)
    lexical = np.zeros(n, dtype=np.float32)
    total = sum(idf.values())
    if total > 0 and n:
        starts = offsets[:, 0]
        # Only words that begin like a query term can stem to it (a Porter stem keeps the
        # word's first three letters, but for a final y turned i: "sky" -> "ski"): the regex
        # engine skips the rest.
        heads = {t[:3] for t in idf}
        heads |= {h[:-1] + "y" for h in heads if h.endswith("i")}
        prefixes = "|".join(sorted(map(re.escape, heads)))
        candidates = re.compile(rf"(?i)\b(?:{prefixes})\w*(?:\.?\w+)*")
        found: set[tuple[int, str]] = set()
        for m in candidates.finditer(text):
            stem = stems(m.group().lower())
            if stem in idf:
                i = int(np.searchsorted(starts, m.start(), side="right")) - 1
                if i >= 0 and m.start() < offsets[i, 1]:
                    found.add((i, stem))
        for i, stem in found:
            lexical[i] += idf[stem] / total
    lead = np.zeros(n, dtype=np.float32)
    second = np.zeros(n, dtype=np.float32)
    if n:
        lead[0] = 1.0
    if n > 1:
        second[1] = 1.0
    cue = np.zeros(n, dtype=np.float32)
    if question in _CUES:
        pattern = _CUES[question]
        for i, (start, end) in enumerate(offsets):
            cue[i] = 1.0 if pattern.search(text[start:end]) else 0.0
    return Signals(lexical, lead, second, cue, question)


def cosines(matrix, query, centre: float):
    """Cosine of each sentence vector to the query after removing `centre` times the article's
    mean sentence vector (the topic every late-chunked sentence of the article shares)."""
    import numpy as np

    if centre:
        matrix = matrix - centre * matrix.mean(axis=0, keepdims=True)
    norms = np.maximum(np.linalg.norm(matrix, axis=1), 1e-9)
    return (matrix @ query) / norms


FALLBACK_LEXICAL = 1.0  # without sentence vectors the words alone are the evidence


def combine(cosine, s: Signals, w) -> tuple[np.ndarray, np.ndarray]:
    """(evidence, total) per sentence: evidence is meaning and words (what the answer threshold
    applies to); total adds place and cues (what picks the answer)."""
    if cosine is None:
        evidence = FALLBACK_LEXICAL * s.lexical
    else:
        evidence = w.semantic * cosine + w.lexical * s.lexical
    return evidence, evidence + w.lead * s.lead + w.second * s.second + w.cue * s.cue


_OPEN_QUOTE = re.compile(r"^[\"“]")


def needs_next(sentence: str) -> bool:
    """Whether a sentence cannot stand alone: very short, ending in ":", or opening a quote it
    does not close."""
    words = len(sentence.split())
    if words < 6 or sentence.rstrip().endswith(":"):
        return True
    quotes = sentence.count('"') + sentence.count("“") + sentence.count("”")
    return bool(_OPEN_QUOTE.match(sentence)) and quotes % 2 == 1 and words < 15


_WORD = re.compile(r"\w+")
JOIN_SHORT = 15  # words: two sentences this short are of "about the same length" whatever their lengths


def join_with(text: str, offsets, total, best: int, margin: float, fit: str = "about") -> int | None:
    """The neighbour of sentence `best` to answer with it, or None: the better-scoring of the
    sentences before and after it that scores within `margin` of it and fits. `fit` "about": of
    about its length (neither of the two longer than the other or JOIN_SHORT words), so that the
    pair is never more than twice as long as whichever of the two holds the answer; "no_longer":
    not longer than it (or JOIN_SHORT words); "any": any length (the last two measured only)."""
    if margin <= 0:
        return None

    def words(i: int) -> int:
        return len(_WORD.findall(text[int(offsets[i][0]):int(offsets[i][1])]))

    own = words(best)

    def fits(i: int) -> bool:
        if fit == "any":
            return True
        shorter = words(i) <= max(own, JOIN_SHORT)
        return shorter if fit == "no_longer" else shorter and own <= max(words(i), JOIN_SHORT)

    near = [i for i in (best - 1, best + 1) if 0 <= i < len(offsets) and fits(i)]
    if not near:
        return None
    other = max(near, key=lambda i: total[i])
    return other if total[best] - total[other] < margin else None
