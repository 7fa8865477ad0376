"""Sentence vectors of each article, made while its passages are encoded, for answers.

Every passage is encoded once as a whole; with ONNX each of its sentences also gets the mean of
the passage's token embeddings inside it ("late chunking": the sentence read in its context, at
no extra encoding cost). A sentence two overlapping passages share gets the mean of both
readings. The article store keeps, per article, the sentences' offsets in the article text and
their vectors (index/store.py `sentence_vectors`).

$BYLINE_SENTENCES chooses how (read when a writer opens; for measuring the alternatives):
"span" (the default) as above; "own" encodes every sentence on its own as well (about twice the
encoding work); "off" stores no sentence vectors (answers then score sentences without them).
"""

from __future__ import annotations

import os

from index.documents import Chunk

MODES = ("span", "own", "off")


def mode() -> str:
    value = os.environ.get("BYLINE_SENTENCES", "").strip().lower() or "span"
    if value not in MODES:
        raise ValueError(f"BYLINE_SENTENCES={value!r}: choose one of {', '.join(MODES)}")
    return value


def encode_passages(embedder, chunks: list[Chunk], how: str):
    """The passages' vectors and, unless `how` is "off", a matrix of sentence vectors per
    passage (rows in the order of `chunk.sentences`)."""
    texts = [c.embedding_text() for c in chunks]
    if how == "off":
        return embedder.encode(texts), None
    if how == "span":
        spans = [[(c.text_offset + a, c.text_offset + b) for _, _, a, b in c.sentences] for c in chunks]
        return embedder.encode_with_spans(texts, spans)
    matrix = embedder.encode(texts)
    unique = list(dict.fromkeys(c.text[a:b] for c in chunks for _, _, a, b in c.sentences))
    row = {text: i for i, text in enumerate(unique)}
    alone = embedder.encode(unique)
    return matrix, [alone[[row[c.text[a:b]] for _, _, a, b in c.sentences]] for c in chunks]


def of_article(chunks: list[Chunk], vectors_by_chunk: list):
    """(offsets (n, 2), vectors (n, dim)) of an article's sentences, in text order, from its
    passages' sentence vectors (`vectors_by_chunk` maps a chunk's id to its matrix)."""
    import numpy as np

    sums: dict[tuple[int, int], object] = {}
    for chunk in chunks:
        matrix = vectors_by_chunk[chunk.id]
        for (start, end, _, _), vector in zip(chunk.sentences, matrix):
            key = (start, end)
            sums[key] = sums[key] + vector if key in sums else vector.copy()
    keys = sorted(sums)
    if not keys:
        return np.zeros((0, 2), dtype=np.int32), np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([sums[k] for k in keys]).astype(np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return np.asarray(keys, dtype=np.int32), matrix
