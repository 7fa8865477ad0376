"""Split article text into sentence-aligned passages that fit the embedding model's window.

Passages overlap by a sentence or two so an answer that straddles a boundary is still found whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from index.documents import Article, Chunk

TokenCounter = Callable[[str], int]

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gen", "gov", "sen", "rep", "col", "lt",
    "sgt", "capt", "cmdr", "adm", "rev", "hon", "pres", "vs", "etc", "inc", "ltd", "co", "corp",
    "no", "fig", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "u.s", "u.k", "u.n", "e.g", "i.e", "approx", "est", "dept", "univ", "mt", "ft",
}
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class ChunkingParams:
    """How articles are cut into passages; stored in the index manifest."""

    max_tokens: int = 200  # passage budget, title included, below the model's 256-token window
    overlap_sentences: int = 1

    def as_dict(self) -> dict:
        return {"max_tokens": self.max_tokens, "overlap_sentences": self.overlap_sentences}


def approximate_tokens(text: str) -> int:
    """A tokenizer-free estimate of WordPiece tokens: one per word or punctuation mark, one
    more per long word. Additive over whitespace, like the real count, so sums are exact."""
    return sum(1 + (len(t) > 6) for t in re.findall(r"\w+|[^\w\s]", text))


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; paragraph breaks always end a sentence."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\s*[-*•])", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        start = 0
        for m in _BOUNDARY.finditer(paragraph):
            candidate = paragraph[start:m.start()].strip()
            last_word = candidate.rsplit(" ", 1)[-1].rstrip(".!?\"'”’)]").lower()
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            sentences.append(paragraph[start:m.end()].strip())
            start = m.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


def chunk_article(
    article: Article,
    params: ChunkingParams = ChunkingParams(),
    count_tokens: TokenCounter = approximate_tokens,
) -> list[Chunk]:
    """Cut an article into passages of at most `params.max_tokens` tokens, title included."""
    title_cost = count_tokens(article.title) if article.title else 0
    budget = max(32, params.max_tokens - title_cost)
    pieces: list[tuple[str, int]] = []
    for sentence in split_sentences(article.text):
        cost = count_tokens(sentence)
        if cost <= budget:
            pieces.append((sentence, cost))
        else:
            pieces.extend(_split_long(sentence, budget, count_tokens))

    passages: list[str] = []
    current: list[tuple[str, int]] = []
    size = 0
    for piece in pieces:
        if current and size + piece[1] > budget:
            passages.append(" ".join(s for s, _ in current))
            keep = current[-params.overlap_sentences:] if params.overlap_sentences else []
            # Overlap only when it leaves room for new text; never repeat a whole passage.
            while keep and (sum(c for _, c in keep) + piece[1] > budget or len(keep) >= len(current)):
                keep = keep[1:]
            current, size = list(keep), sum(c for _, c in keep)
        current.append(piece)
        size += piece[1]
    if current:
        passages.append(" ".join(s for s, _ in current))
    if not passages:
        passages = [article.title]
    return [Chunk(article_id=article.id, ordinal=i, text=p, title=article.title) for i, p in enumerate(passages)]


def _split_long(sentence: str, budget: int, count_tokens: TokenCounter) -> list[tuple[str, int]]:
    """Cut a sentence longer than the budget into word windows that fit.

    Word costs are summed rather than re-counting the growing window, so a huge run-on text
    costs linear time; WordPiece splits on whitespace first, so the sums are exact.
    """
    out: list[tuple[str, int]] = []
    current: list[str] = []
    size = 0
    for word in sentence.split():
        cost = count_tokens(word)
        if current and size + cost > budget:
            out.append((" ".join(current), size))
            current, size = [], 0
        current.append(word)
        size += cost
    if current:
        out.append((" ".join(current), size))
    return out
