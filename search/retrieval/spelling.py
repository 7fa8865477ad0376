"""Spelling suggestions from the index's own vocabulary ("did you mean: mandelson").

A query word whose stem is in neither the titles nor the bodies of the index, while a stem
within one edit is (two for words of seven letters or more), is replaced by that stem's closest
neighbour (Whoosh's spelling corrector over the index terms: fewest edits first, then the
longest shared beginning, then the most documents), written as the word appears in an article
that holds it. Words of field clauses, phrases' quotes and the
operators AND/OR/NOT are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from search.retrieval.lexical import SEARCH_FIELDS, analyse

_WORD = re.compile(r"(?<![\w:])[^\W\d_][\w'’-]*(?![\w:])")
_OPERATORS = {"AND", "OR", "NOT", "TO"}
MIN_LENGTH = 4  # shorter words have too many neighbours within two edits
MAX_EDITS = 2  # for words of LONG letters or more; one edit for shorter ones (as Lucene's fuzzy)
LONG = 7


@dataclass(frozen=True)
class Suggestion:
    text: str  # the query with its misspelt words replaced
    words: tuple[tuple[str, str], ...]  # (as typed, suggested)


def suggest(index, query: str) -> Suggestion | None:
    """A corrected query, or None when every word is in the index or none has a close one
    (or the index is in Milvus, whose vocabulary is not read here)."""
    if index.milvus is not None:
        return None
    whole = index.article_lexical
    ix = whole if whole is not None else index.lexical
    with ix.searcher() as searcher:
        replaced: list[tuple[str, str]] = []
        pieces, last = [], 0
        for m in _WORD.finditer(query):
            word = m.group()
            if word in _OPERATORS or len(word) < MIN_LENGTH:
                continue
            stems = analyse(word)
            if len(stems) != 1:  # a stop word, or a word the analyser splits
                continue
            stem = next(iter(stems))
            if any(searcher.doc_frequency(f, stem) for f in SEARCH_FIELDS):
                continue
            better = _closest(searcher, stem, MAX_EDITS if len(word) >= LONG else 1)
            if better is None:
                continue
            surface = _surface(index, searcher, better, whole is not None) or better
            replaced.append((word, surface))
            pieces += [query[last:m.start()], surface]
            last = m.end()
    if not replaced:
        return None
    return Suggestion("".join(pieces) + query[last:], tuple(replaced))


def _closest(searcher, stem: str, edits: int) -> str | None:
    """The index stem within `edits` (a swap of two letters is one) with the fewest, then the
    most documents (title or body)."""
    found: dict[str, int] = {}
    reader = searcher.reader()
    for fieldname in SEARCH_FIELDS:
        corrector = searcher.corrector(fieldname)
        for candidate in corrector.suggest(stem, limit=50, maxdist=MAX_EDITS, prefix=1):
            found[candidate] = found.get(candidate, 0) + reader.doc_frequency(fieldname, candidate)
    found = {c: n for c, n in found.items() if _distance(stem, c) <= edits and not _other_form(stem, c)}
    if not found:
        return None
    # Ties go to the longer shared beginning (beckam: beckham, not became), then the commoner.
    return min(found, key=lambda c: (_distance(stem, c), -_shared_prefix(stem, c), -found[c], c))


# Endings that make another form of a word: a stem that is another plus one of them (keeper and
# keep) is not a misspelling of it. One letter more or less (blunket, enronn) is a typo.
_FORMS = ("er", "or", "ed", "es", "ing", "ion", "al", "ly", "ment", "ness", "ist", "ism", "ic", "ish", "ful")


def _other_form(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    return long.startswith(short) and long[len(short):] in _FORMS


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _surface(index, searcher, stem: str, whole: bool) -> str | None:
    """The stem as a word of an article that holds it (lower case), e.g. govern -> government."""
    from whoosh import query as wq

    for fieldname in SEARCH_FIELDS:
        for docnum in searcher.docs_for_query(wq.Term(fieldname, stem)):
            stored = searcher.stored_fields(docnum)
            if whole:
                got = index.store.article_text(stored["article_id"])
                text = " ".join(got) if got else ""
            else:
                row = index.store.chunks([stored["chunk_id"]]).get(stored["chunk_id"])
                text = row.text if row else ""
            for w in re.findall(r"[^\W\d_]+", text):
                if analyse(w) == {stem}:
                    return w.lower()
            break
    return None


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (a swap of two letters is one edit)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
