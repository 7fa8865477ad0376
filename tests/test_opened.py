"""How a search process opens an index: vectors mapped from the file, Whoosh segments read from
separate files (a compound segment file is copied whole into memory on every open)."""

from __future__ import annotations

import numpy as np

from index import vectors
from index.layout import IndexPaths
from search.retrieval.opened import OpenIndex


def test_mapped_vectors_answer_like_loaded_ones(sample_index, embedder):
    ix = OpenIndex(sample_index)
    try:
        path = ix.paths.vectors(ix.generation)
        loaded = vectors.load(path, ix.manifest.dimension)
        query = embedder.encode_queries(["who proposed talks without preconditions"])
        mapped_scores, mapped_ids = vectors.search(ix.vectors, query, 20)
        scores, ids = vectors.search(loaded, query, 20)
        assert mapped_ids.tolist() == ids.tolist() and len(ids[0]) == 20
        np.testing.assert_allclose(mapped_scores, scores)
        some = ids[0][:3].tolist()
        np.testing.assert_array_equal(vectors.vectors_of(ix.vectors, some), vectors.vectors_of(loaded, some))
    finally:
        ix.close()


def test_whoosh_segments_are_separate_files(sample_index):
    ix = OpenIndex(sample_index)
    try:
        lexical_dir = IndexPaths(sample_index).lexical(ix.generation)
        names = [p.name for p in lexical_dir.iterdir()]
        assert any(n.endswith(".pst") for n in names), names  # postings of a segment
        assert not any(n.endswith(".seg") for n in names), names  # no compound file
        assert ix.lexical.doc_count() > 0
    finally:
        ix.close()
