"""Split article text into sentence-aligned passages that fit the embedding model's window.

Passages overlap by a sentence or two so an answer that straddles a boundary is still found whole.
"""

from __future__ import annotations

import bisect
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
    """Split text into sentences; paragraph breaks always end a sentence. Each sentence has its
    whitespace runs collapsed to single spaces."""
    return [" ".join(text[start:end].split()) for start, end in sentence_spans(text)]


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n(?=\s*[-*•])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of `text` (as `split_sentences` cuts
    them): each slice starts and ends with a non-space character."""
    spans: list[tuple[int, int]] = []
    begin = 0
    for brk in [*_PARAGRAPH_BREAK.finditer(text), None]:
        stop = brk.start() if brk else len(text)
        spans.extend(_paragraph_spans(text, begin, stop))
        begin = brk.end() if brk else stop
    return spans


def _paragraph_spans(text: str, begin: int, stop: int) -> list[tuple[int, int]]:
    # The boundary rules run on the paragraph with whitespace collapsed, then map back.
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[begin:stop])]
    if not words:
        return []
    paragraph = " ".join(text[begin + s:begin + e] for s, e in words)
    word_at: list[int] = []  # collapsed offset of each word's start
    at = 0
    for s, e in words:
        word_at.append(at)
        at += e - s + 1

    def original(i: int) -> int:  # collapsed offset (of a non-space char) -> offset in text
        j = bisect.bisect_right(word_at, i) - 1
        return begin + words[j][0] + (i - word_at[j])

    out: list[tuple[int, int]] = []

    def emit(a: int, b: int) -> None:
        piece = paragraph[a:b]
        a += len(piece) - len(piece.lstrip())
        b -= len(piece) - len(piece.rstrip())
        if b > a:
            out.append((original(a), original(b - 1) + 1))

    start = 0
    for m in _BOUNDARY.finditer(paragraph):
        candidate = paragraph[start:m.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].rstrip(".!?\"'”’)]").lower()
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        emit(start, m.end())
        start = m.end()
    emit(start, len(paragraph))
    return out


def chunk_article(
    article: Article,
    params: ChunkingParams = ChunkingParams(),
    count_tokens: TokenCounter = approximate_tokens,
) -> list[Chunk]:
    """Cut an article into passages of at most `params.max_tokens` tokens, title included."""
    title_cost = count_tokens(article.title) if article.title else 0
    budget = max(32, params.max_tokens - title_cost)
    # A piece is a sentence, or a word window of a sentence too long for a passage:
    # (text with collapsed whitespace, token cost, (start, end) in the article text).
    pieces: list[tuple[str, int, tuple[int, int]]] = []
    for start, end in sentence_spans(article.text):
        sentence = " ".join(article.text[start:end].split())
        cost = count_tokens(sentence)
        if cost <= budget:
            pieces.append((sentence, cost, (start, end)))
        else:
            pieces.extend(_split_long(article.text, start, end, budget, count_tokens))

    groups: list[list[tuple[str, int, tuple[int, int]]]] = []
    current: list[tuple[str, int, tuple[int, int]]] = []
    size = 0
    for piece in pieces:
        if current and size + piece[1] > budget:
            groups.append(current)
            keep = current[-params.overlap_sentences:] if params.overlap_sentences else []
            # Overlap only when it leaves room for new text; never repeat a whole passage.
            while keep and (sum(p[1] for p in keep) + piece[1] > budget or len(keep) >= len(current)):
                keep = keep[1:]
            current, size = list(keep), sum(p[1] for p in keep)
        current.append(piece)
        size += piece[1]
    if current:
        groups.append(current)
    if not groups:
        return [Chunk(article_id=article.id, ordinal=0, text=article.title, title=article.title)]
    return [_chunk(article, i, group) for i, group in enumerate(groups)]


def _chunk(article: Article, ordinal: int, group: list[tuple[str, int, tuple[int, int]]]) -> Chunk:
    """A passage of pieces joined by spaces, with each piece's place in the article and in it."""
    spans, at = [], 0
    for text, _, (start, end) in group:
        spans.append((start, end, at, at + len(text)))
        at += len(text) + 1
    return Chunk(article_id=article.id, ordinal=ordinal, text=" ".join(p[0] for p in group),
                 title=article.title, sentences=spans)


def _split_long(text: str, start: int, end: int, budget: int,
                count_tokens: TokenCounter) -> list[tuple[str, int, tuple[int, int]]]:
    """Cut the sentence text[start:end], longer than the budget, into word windows that fit.

    Word costs are summed rather than re-counting the growing window, so a huge run-on text
    costs linear time; WordPiece splits on whitespace first, so the sums are exact.
    """
    out: list[tuple[str, int, tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    size = 0

    def close() -> None:
        words = " ".join(text[s:e] for s, e in current)
        out.append((words, size, (current[0][0], current[-1][1])))

    for m in re.finditer(r"\S+", text[start:end]):
        cost = count_tokens(m.group())
        if current and size + cost > budget:
            close()
            current, size = [], 0
        current.append((start + m.start(), start + m.end()))
        size += cost
    if current:
        close()
    return out
