"""Sentence vectors stored at ingest: offsets slice the article text, vectors read back per
article, edits and removals follow the article's generations, old stores without them still open."""

from __future__ import annotations

import numpy as np

from index.builder import add_articles, remove_articles
from index.chunker import ChunkingParams, chunk_article, sentence_spans, split_sentences
from index.documents import Article
from index.layout import IndexPaths
from search.retrieval.opened import OpenIndex

from conftest import without_sentence_vectors


def test_sentence_spans_slice_the_original_text():
    text = "  Mr. Kim met U.S. officials\n on Jan. 10.   They talked.\n\nA new  paragraph! \n- a bullet"
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "Mr. Kim met U.S. officials\n on Jan. 10.", "They talked.", "A new  paragraph!", "- a bullet"]
    assert split_sentences(text) == [" ".join(text[a:b].split()) for a, b in spans]


def test_chunk_sentences_map_passage_text_to_article_text(embedder):
    words = " ".join(f"w{i}" for i in range(400))  # one sentence longer than a passage
    text = "First  sentence here. Second one follows.\n\n" + words + ". Last sentence."
    article = Article(id="a", title="T", text=text)
    chunks = chunk_article(article, ChunkingParams(max_tokens=64), embedder.count_tokens)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.sentences
        for start, end, a, b in chunk.sentences:
            assert " ".join(text[start:end].split()) == chunk.text[a:b]


def _articles():
    return [
        Article(id="talks", title="Envoy offers talks",
                text="The envoy said on Monday that Washington would meet Pyongyang without conditions. "
                     "Officials in Seoul welcomed the offer.\n\nThe North has not replied."),
        Article(id="rain", title="Storm floods coast",
                text="Heavy rain flooded the coastal towns overnight. Hundreds of homes lost power."),
    ]


def test_stored_sentence_vectors_match_the_sentences(tmp_path, embedder):
    paths = IndexPaths(tmp_path / "ix")
    add_articles(paths, _articles(), embedder)
    ix = OpenIndex(paths.root)
    stored = ix.store.sentence_vectors(["talks", "rain", "missing"])
    texts = ix.store.article_texts(["talks", "rain"])
    assert set(stored) == {"talks", "rain"}
    offsets, matrix = stored["talks"]
    assert [texts["talks"][a:b] for a, b in offsets] == split_sentences(texts["talks"])
    assert matrix.shape == (3, embedder.info.dimension) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=0.01)
    # A sentence's vector (read in its passage, so it leans towards the passage's topic) is
    # nearer to that sentence read alone than to any sentence of the other article.
    alone = embedder.encode(split_sentences(texts["talks"]) + split_sentences(texts["rain"]))
    sims = matrix @ alone.T
    assert all(sims[i, i] > sims[i, 3:].max() + 0.1 for i in range(3)), sims
    query = embedder.encode_queries(["who offered to meet without conditions"])[0]
    assert int(np.argmax(matrix @ query)) == 0
    ix.close()


def test_sentences_follow_edits_and_removals(tmp_path, embedder):
    paths = IndexPaths(tmp_path / "ix")
    add_articles(paths, _articles(), embedder)
    edited = Article(id="rain", title="Storm floods coast", text="Only one sentence now.")
    add_articles(paths, [edited], embedder)
    ix = OpenIndex(paths.root)
    offsets, matrix = ix.store.sentence_vectors(["rain"])["rain"]
    assert offsets.tolist() == [[0, len(edited.text)]] and matrix.shape[0] == 1
    ix.close()
    remove_articles(paths, embedder, ["talks"])
    ix = OpenIndex(paths.root)
    assert set(ix.store.sentence_vectors(["talks", "rain"])) == {"rain"}
    ix.close()


def test_store_without_sentence_table_still_opens(tmp_path, sample_index):
    root = without_sentence_vectors(sample_index, tmp_path / "old")
    ix = OpenIndex(root)
    ids = list(ix.store.article_hashes())
    assert ix.store.sentence_vectors(ids) == {}
    assert len(ix.store.article_texts(ids)) == len(ids)
    ix.close()


def test_an_open_index_keeps_the_sentence_rows_of_its_generation(tmp_path, embedder):
    """A read-only store caches unpacked rows: repeated reads give the same read-only arrays,
    an index opened before an edit keeps seeing its own generation's rows, and a new one the
    edit's."""
    paths = IndexPaths(tmp_path / "ix")
    add_articles(paths, _articles(), embedder)
    before = OpenIndex(paths.root)
    first = before.store.sentence_vectors(["talks", "rain"])
    again = before.store.sentence_vectors(["rain", "rain", "missing"])
    assert set(again) == {"rain"} and again["rain"][1] is first["rain"][1]
    assert not first["rain"][1].flags.writeable
    add_articles(paths, [Article(id="rain", title="Storm floods coast", text="Only one sentence now.")], embedder)
    after = OpenIndex(paths.root)
    assert after.store.sentence_vectors(["rain"])["rain"][1].shape[0] == 1
    assert before.store.sentence_vectors(["rain"])["rain"][1].shape[0] == 2
    before.close()
    after.close()


def test_sentence_row_cache_stays_within_its_budget():
    from index.store import SentenceRowCache

    def row(n):
        return np.zeros((n, 2), np.int32), np.zeros((n, 4), np.float32)

    cache = SentenceRowCache(budget=10 * 24)  # ten one-sentence rows (8 + 16 bytes each)
    cache.put_many({f"a{i}": row(1) for i in range(8)})
    assert set(cache.get_many(["a0"])) == {"a0"}  # a0 is now the most recently used
    cache.put_many({"big": row(4), "huge": row(11)})  # huge alone exceeds the budget: not kept
    assert cache.size <= cache.budget
    assert set(cache.get_many([f"a{i}" for i in range(8)] + ["big", "huge"])) == {"a0", "a3", "a4", "a5", "a6", "a7", "big"}
