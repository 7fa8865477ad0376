"""Semantic retrieval: embed the query and find the nearest chunk vectors in FAISS."""

from __future__ import annotations

from index import vectors


def search_chunks(vector_index, query_vectors, limit: int, allowed_ids: list[int] | None = None) -> list[list[tuple[int, float]]]:
    """Top chunks per query row as (chunk_id, cosine similarity), best first."""
    if allowed_ids is not None and not allowed_ids:
        return [[] for _ in range(len(query_vectors))]
    scores, ids = vectors.search(vector_index, query_vectors, limit, allowed_ids)
    return [[(int(i), float(s)) for i, s in zip(id_row, score_row) if i >= 0]
            for id_row, score_row in zip(ids, scores)]
