"""The numpy BM25F scorer gives Whoosh's own ranking and scores, on real Whoosh indexes with
several segments, deletions, ties and filters; other query shapes are left to Whoosh."""

from __future__ import annotations

import random

import pytest

from index import lexical as lexical_index
from search.retrieval import bm25, lexical
from search.retrieval.filters import Filters

VOCAB = ("minister talks korea nuclear election vote budget tax football match club striker "
         "market shares bank rates film award actor music album band police court trial").split()
SOURCES = ("Wire A", "Wire B", "Wire C")


def _build(path, docs_per_commit=(40, 25, 15), seed=7):
    """Chunks of random words, committed in several segments, some deleted afterwards."""
    rng = random.Random(seed)
    ix = lexical_index.open_or_create(path)
    chunk_id = 0
    for count in docs_per_commit:
        writer = ix.writer()
        for _ in range(count):
            words = rng.choices(VOCAB, k=rng.randint(3, 40))
            title = " ".join(rng.choices(VOCAB, k=rng.randint(0, 4)))
            if chunk_id % 9 == 0:  # identical chunks give exactly tied scores
                words, title = ["korea", "talks", "minister"], ""
            writer.add_document(**lexical_index.chunk_document(
                chunk_id, f"a{chunk_id // 3}", title, " ".join(words), rng.choice(SOURCES),
                f"2020-01-{rng.randint(1, 28):02d}"))
            chunk_id += 1
        writer.commit(merge=False)
    writer = ix.writer()
    for article in ("a2", "a10", "a21"):
        writer.delete_by_term("article_id", article)
    writer.commit(merge=False)
    return ix


@pytest.fixture(scope="module")
def whoosh_index(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("bm25") / "lexical")


QUERIES = [
    "who proposed talks with korea",
    "minister",
    "nuclear talks minister korea vote",
    "football striker club match award",
    "bank rates market shares tax budget",
    "title:film actor",
    "words nobody wrote",
    "trial court police court",  # a repeated word counts twice, as in Whoosh
]


@pytest.mark.parametrize("params", [lexical.BM25Params(), lexical.BM25Params(k1=2.0, b=0.3, title_b=0.9)])
@pytest.mark.parametrize("filters", [Filters(), Filters(sources=("wire b",)), Filters(since="2020-01-05", until="2020-01-20")])
def test_same_ranking_and_scores_as_whoosh(whoosh_index, params, filters):
    searcher = whoosh_index.searcher(weighting=lexical.weighting(params))
    assert len(searcher.reader().leaf_readers()) > 1 and searcher.reader().has_deletions()
    scorer = lexical.plain_scorer(searcher, filters)
    for text in QUERIES:
        q = lexical.parse_query(text, whoosh_index.schema)
        assert bm25.plain_terms(q, lexical.SEARCH_FIELDS) is not None, text
        for limit in (1, 5, 10, 200):
            by_whoosh = lexical.search_chunks(searcher, q, limit, filters)
            by_numpy = lexical.search_chunks(searcher, q, limit, filters, scorer)
            assert [c for c, _ in by_numpy] == [c for c, _ in by_whoosh], (text, limit)
            assert [s for _, s in by_numpy] == pytest.approx([s for _, s in by_whoosh], rel=1e-9)


def test_ties_are_taken_in_document_order(whoosh_index):
    searcher = whoosh_index.searcher(weighting=lexical.weighting(lexical.BM25Params()))
    q = lexical.parse_query("korea talks minister", whoosh_index.schema)
    hits = bm25.Scorer(searcher).top(bm25.plain_terms(q, lexical.SEARCH_FIELDS), 200)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    groups: dict[float, list[int]] = {}
    for docnum, score in hits:
        groups.setdefault(score, []).append(docnum)
    assert max(len(g) for g in groups.values()) > 1
    assert all(g == sorted(g) for g in groups.values())


def test_deleted_chunks_are_never_returned(whoosh_index):
    searcher = whoosh_index.searcher(weighting=lexical.weighting(lexical.BM25Params()))
    q = lexical.parse_query(" ".join(VOCAB), whoosh_index.schema)
    hits = lexical.search_chunks(searcher, q, 1000, Filters(), bm25.Scorer(searcher))
    deleted = {c for c in range(80) if c // 3 in (2, 10, 21)}
    assert len(hits) == 80 - len(deleted)
    assert not deleted & {c for c, _ in hits}


@pytest.mark.parametrize("text", [
    '"talks with korea"', "korea AND talks", "korea NOT talks", "kor*", "source:wire", "korea^2 OR (talks AND vote)",
])
def test_other_query_shapes_are_left_to_whoosh(whoosh_index, text):
    q = lexical.parse_query(text, whoosh_index.schema)
    assert bm25.plain_terms(q, lexical.SEARCH_FIELDS) is None


def test_an_empty_index_returns_nothing(tmp_path):
    ix = lexical_index.open_or_create(tmp_path / "empty")
    searcher = ix.searcher(weighting=lexical.weighting(lexical.BM25Params()))
    q = lexical.parse_query("korea talks", ix.schema)
    assert lexical.search_chunks(searcher, q, 10, Filters(), bm25.Scorer(searcher)) == []


def test_postings_are_read_without_their_positions_and_match_whoosh(whoosh_index, monkeypatch):
    """Each term is read in one piece and its blocks decoded from their front, by slicing bytes
    or (short blocks) by unpickling only the ids and frequencies; the same postings as Whoosh's."""
    from whoosh.codec.whoosh3 import W3LeafMatcher

    from search.retrieval import postings

    unpickled = []
    real = postings._unpickled_front
    monkeypatch.setattr(postings, "_unpickled_front", lambda front, count: unpickled.append(count) or real(front, count))
    reader = whoosh_index.reader()
    terms = 0
    for seg, _ in reader.leaf_readers():
        for fieldname in lexical.SEARCH_FIELDS:
            for text in seg.lexicon(fieldname):
                text = text.decode("utf-8") if isinstance(text, bytes) else text
                m = seg.postings(fieldname, text)  # Whoosh's own reading, deletions skipped
                expected = []
                while m.is_active():
                    expected.append((m.id(), m.weight()))
                    m.next()
                assert isinstance(_leaf(seg.postings(fieldname, text)), W3LeafMatcher)
                offset, length = seg.term_info(fieldname, text).extent()
                assert postings._read_extent(seg._terms._postfile, offset, length) is not None, (fieldname, text)
                ids, weights = postings.term_postings(seg, fieldname, text)
                kept = [(d, w) for d, w in zip(ids.tolist(), weights.tolist()) if not seg.is_deleted(d)]
                assert kept == expected, (fieldname, text)
                terms += 1
    assert terms > 50
    assert unpickled and max(unpickled) <= 3  # only the short blocks were unpickled


def _leaf(matcher):
    return getattr(matcher, "child", matcher)  # under the deletions filter


def test_a_reader_cache_keeps_long_postings_within_its_budget(whoosh_index):
    """Scorers sharing a reader's cache give Whoosh's results whether the postings are read or
    kept; what is kept stays within the budget, least recently used first out, read-only."""
    from whoosh.searching import Searcher

    searcher = whoosh_index.searcher(weighting=lexical.weighting(lexical.BM25Params()))
    reader = searcher.reader()

    def check(cache, searcher=searcher):
        scorer = lexical.plain_scorer(searcher, Filters(), cache)
        for text in QUERIES:
            q = lexical.parse_query(text, whoosh_index.schema)
            by_whoosh = lexical.search_chunks(searcher, q, 10, Filters())
            by_cache = lexical.search_chunks(searcher, q, 10, Filters(), scorer)
            assert by_cache == [(c, pytest.approx(s, rel=1e-12)) for c, s in by_whoosh], text

    roomy = bm25.ReaderCache(reader, budget=1 << 20)
    roomy.MIN_POSTINGS = 1  # keep every list (a real cache keeps only long ones)
    check(roomy)
    kept = dict(roomy._postings)
    check(roomy)  # every list now from the cache
    # Another BM25F setting over the same reader gets its own word statistics.
    other = Searcher(reader, weighting=lexical.weighting(lexical.BM25Params(k1=2.0, b=0.3, title_b=0.9)),
                     closereader=False)
    check(roomy, other)
    assert len(kept) > 10 and all(roomy._postings[key] is arrays for key, arrays in kept.items())
    assert all(not ids.flags.writeable and not tf.flags.writeable for ids, tf in kept.values())

    tight = bm25.ReaderCache(reader, budget=1200)
    tight.MIN_POSTINGS = 1
    check(tight)
    assert 0 < tight._held <= 1200 and len(tight._postings) < len(kept)
    first = next(iter(tight._postings))
    [segment] = [seg for seg, _ in reader.leaf_readers() if id(seg) == first[0]]
    tight.postings(segment, *first[1:])
    assert next(reversed(tight._postings)) == first  # used again: now the last to go
