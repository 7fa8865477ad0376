"""The retrieval interface (search/retrieval/backend.py): the local backend (Whoosh and FAISS) and
the Milvus backend (milvus-lite, the real engine) pass the same tests, on indexes of the samples.

milvus-lite admits one process per database file, so its index is built in this process
(typer's CliRunner), in a database of this module's own.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import NK, NK_SEED, SAMPLES, SEED
from search.ranking.ranker import Ranker, SearchOptions
from search.retrieval import lexical
from search.retrieval.backend import Backend, Candidates, Retriever
from search.retrieval.filters import Filters
from search.retrieval.opened import OpenIndex

QUESTION = "who proposed talks without preconditions"
WIRE = "Byline Sample Wire"


def _milvus_index(folder: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # milvus-lite imports pkg_resources
        pytest.importorskip("milvus_lite", reason="milvus-lite is not installed (pip install 'byline[milvus]')")
        pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install 'byline[milvus]')")
    from search.cli import app

    sources = [SAMPLES] + ([SEED] if (SEED / NK_SEED).is_file() else [])
    ix = folder / "ix"
    added = CliRunner().invoke(app, ["index", "add", *map(str, sources), "--index", str(ix), "--backend", "milvus",
                                     "--milvus-uri", str(ix / "retrieval.db"), "--quiet"], catch_exceptions=False)  # inside the index: no address needed later
    assert added.exit_code == 0, added.stderr
    return ix


@pytest.fixture(scope="module", params=["local", "milvus"])
def opened(request, sample_index, tmp_path_factory):
    root = sample_index if request.param == "local" else _milvus_index(tmp_path_factory.mktemp("milvus"))
    ix = OpenIndex(root)
    yield ix
    ix.close()


def retriever(ix: OpenIndex, mode: str = "hybrid", filters: Filters = Filters()) -> Retriever:
    return ix.backend.retriever(mode, filters, lexical.BM25Params())


def owners(ix: OpenIndex, hits) -> list[str]:
    rows = ix.store.chunks({cid for cid, _ in hits})
    return [rows[cid].article_id for cid, _ in hits]


def test_the_backend_is_chosen_by_the_manifest_and_implements_the_interface(opened):
    backend = opened.backend
    assert isinstance(backend, Backend) and isinstance(retriever(opened), Retriever)
    assert type(backend).__name__ == ("MilvusBackend" if opened.manifest.backend == "milvus" else "LocalBackend")


def test_candidates_hold_both_sides_best_first(opened):
    [c] = retriever(opened).candidates([QUESTION], 20)
    assert isinstance(c, Candidates)
    for side in (c.lexical, c.semantic):
        assert 0 < len(side) <= 20
        assert [s for _, s in side] == sorted((s for _, s in side), reverse=True)
        assert set(owners(opened, side)) <= set(opened.store.articles(owners(opened, side)))
    assert owners(opened, c.semantic)[0] in NK
    assert NK & set(owners(opened, c.lexical)[:3])
    assert c.articles and NK & {a for a, _ in c.articles[:3]}
    assert lexical.analyse("preconditions") <= c.terms
    assert c.vector is not None and c.vector.shape == (opened.manifest.dimension,)


def test_a_mode_asks_only_its_side(opened):
    [lex] = retriever(opened, "lexical").candidates([QUESTION], 10)
    assert lex.lexical and not lex.semantic and lex.vector is None
    [sem] = retriever(opened, "semantic").candidates([QUESTION], 10)
    assert sem.semantic and not sem.lexical and sem.articles is None


def test_filters_hold_on_every_search(opened):
    wire = retriever(opened, filters=Filters.build([WIRE]))
    [c] = wire.candidates(["talks"], 50)
    hits = c.lexical + c.semantic + wire.semantic_hits(c.vector[None, :], 50)[0] + wire.lexical_hits("talks", 50)
    assert hits
    articles = opened.store.articles(set(owners(opened, hits)))
    assert {a.source for a in articles.values()} == {WIRE}
    nothing = retriever(opened, filters=Filters.build(["no such source"]))
    [none] = nothing.candidates(["talks"], 50)
    assert not none.lexical and not none.semantic and not nothing.semantic_hits(c.vector[None, :], 50)[0]


def test_semantic_hits_by_vector_match_the_query_search_and_the_stored_vectors(opened):
    r = retriever(opened)
    [c] = r.candidates([QUESTION], 10)
    again = r.semantic_hits(c.vector[None, :], 10)[0]
    assert [cid for cid, _ in again] == [cid for cid, _ in c.semantic]
    ids = [cid for cid, _ in again]
    matrix = r.passage_vectors(ids)
    assert matrix.shape == (len(ids), opened.manifest.dimension) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix @ c.vector, [s for _, s in again], atol=0.02)
    assert r.passage_vectors([]).shape == (0, opened.manifest.dimension)


def test_lexical_hits_of_plain_words(opened):
    hits = retriever(opened).lexical_hits("talks without preconditions", 10)
    assert hits and NK & set(owners(opened, hits)[:3])
    assert retriever(opened).lexical_hits("the of and", 10) == []


def test_frequencies_and_sentence_vectors(opened):
    f = opened.backend.frequencies()
    [stem] = lexical.analyse("preconditions")
    assert f.doc_count() == opened.manifest.chunks
    assert 1 <= f.doc_frequency("body", stem) < f.doc_count()
    found = opened.backend.sentence_vectors(sorted(NK))
    assert found and all(len(offsets) == len(matrix) > 0 for offsets, matrix in found.values())


def test_the_ranker_ranks_any_backend_alike(opened):
    [top] = Ranker(opened, SearchOptions(k=1)).search(QUESTION)
    assert top.article.id in NK


def test_the_ranker_names_no_backend():
    source = (Path(__file__).resolve().parent.parent / "search" / "ranking" / "ranker.py").read_text()
    assert "milvus" not in source.lower() and "whoosh" not in source.lower() and "faiss" not in source.lower()
