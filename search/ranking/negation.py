"""Negated phrases: a query asking for talks "without preconditions" wants the article saying
"no preconditions", not the one that "sets preconditions".

Both retrievers miss this: BM25 counts "preconditions" alike in both, and the embedding model
places "sets preconditions" as close to "without preconditions" as "no preconditions". So when a
query negates a word with "without" or "no", the first few results that negate the same word
(stemmed) in their text ("no", "without", "free of", "unconditional(ly)" for conditions) are moved
ahead of those that do not, keeping their order otherwise. Queries without such a phrase are
untouched.
"""

from __future__ import annotations

import re

from index.lexical import analyzer

_QUERY_NEGATION = re.compile(r"\b(?:without|no)\s+(?:any\s+)?([a-z][a-z-]{2,})", re.IGNORECASE)
_TEXT_NEGATION = re.compile(r"\b(?:without|no|free of|free from)\s+(?:any\s+|prior\s+)?([a-z][a-z-]{2,})",
                            re.IGNORECASE)
# Words whose negation is also said with "un-" ("unconditional talks", "talks unconditionally").
_UN = {"condit": re.compile(r"\bunconditional(?:ly)?\b", re.IGNORECASE)}


def _stem(word: str) -> str | None:
    tokens = [t.text for t in analyzer()(word)]
    return tokens[0] if tokens else None


def negated_terms(query: str) -> set[str]:
    """The stems the query negates with "without" or "no" ("without preconditions" -> precondit)."""
    return {s for s in (_stem(m.group(1)) for m in _QUERY_NEGATION.finditer(query)) if s}


def negates(text: str, terms: set[str]) -> bool:
    """Whether `text` negates one of `terms` itself."""
    found = {_stem(m.group(1)) for m in _TEXT_NEGATION.finditer(text)}
    if found & terms:
        return True
    return any(t.endswith(root) and rx.search(text) for t in terms for root, rx in _UN.items())


def agreeing_first(article_ids: list[str], texts: dict[str, str], terms: set[str]) -> list[str]:
    """`article_ids` with those whose text negates the query's negated terms moved first."""
    agree = [a for a in article_ids if negates(texts.get(a, ""), terms)]
    return agree + [a for a in article_ids if a not in agree]
