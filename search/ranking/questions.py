"""Tell natural-language questions ("who proposed talks ...?") from keyword queries and claims.

Questions get their answer from one specific article, mostly in other words than the query's, so
the ranker skips query feedback for them (docs/quality.md has the figures).
"""

from __future__ import annotations

import re

QUESTION_WORDS = frozenset(
    "who whom whose what which when where why how "
    "is are was were do does did can could should would will".split()
)
_FIRST_WORD = re.compile(r"[^\W\d_]+")


def is_question(text: str) -> bool:
    """True when the query ends with '?' or starts with a question word or auxiliary verb."""
    text = text.strip()
    if text.endswith("?"):
        return True
    first = _FIRST_WORD.match(text)
    return bool(first) and first.group().lower() in QUESTION_WORDS
