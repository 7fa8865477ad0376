"""Field clauses in queries filter in every mode (search/retrieval/fields.py); an unknown field
or an unknown source is an error that says what there is."""

from __future__ import annotations

import json

import pytest

from index.builder import add_paths
from index.layout import IndexPaths
from search.engine import BadRequest, Engine, SearchRequest
from search.retrieval.fields import FieldError, split

from conftest import run

MODES = ["hybrid", "lexical", "semantic"]

ARTICLES = [
    {"id": "w1", "title": "Oil prices climb after pipeline outage", "author": "Jane Smith",
     "source": "Harbor Wire", "date": "2024-03-04", "url": "https://harbor.example/oil-1",
     "text": "Crude oil prices rose sharply on Monday after an outage shut a major pipeline. Traders said supply worries would keep oil markets tight."},
    {"id": "w2", "title": "Refiners warn of fuel shortages", "author": "Tom Brown",
     "source": "Harbor Wire", "date": "2024-05-20", "url": "https://harbor.example/fuel-2",
     "text": "Oil refiners warned that fuel shortages could follow if crude oil supplies stay tight through the summer driving season."},
    {"id": "d1", "title": "Oil output rises in the north sea", "author": "Ann Smith",
     "source": "Daily Ledger", "date": "2024-03-10", "url": "https://ledger.example/oil-output",
     "text": "Oil output from north sea fields rose for a second month, the energy ministry said, as new wells came online."},
    {"id": "d2", "title": "Museum opens new dinosaur hall", "author": "Lee Park",
     "source": "Daily Ledger", "date": "2024-06-01", "url": "https://ledger.example/museum",
     "text": "The city museum opened a hall of dinosaur fossils, with a complete skeleton as its centrepiece."},
]


@pytest.fixture(scope="module")
def fielded(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("fielded")
    (folder / "news.jsonl").write_text("".join(json.dumps(a) + "\n" for a in ARTICLES))
    root = tmp_path_factory.mktemp("fielded-index") / "ix"
    add_paths(IndexPaths(root), [folder], embedder)
    return root


@pytest.fixture(scope="module")
def engine(fielded):
    e = Engine(fielded)
    yield e
    e.close()


def ids(engine, query, mode, **kw):
    return {r.article.id for r in engine.search(SearchRequest(query, k=10, mode=mode, floor=False, **kw)).results}


@pytest.mark.parametrize("mode", MODES)
def test_source_author_url_date_and_title_filter_in_every_mode(engine, mode):
    def only(query, allowed, oil):  # results within `allowed`, with every article there about oil
        found = ids(engine, query, mode)
        assert oil <= found <= allowed, (query, found)

    only('source:"Harbor Wire" oil', {"w1", "w2"}, {"w1", "w2"})
    only('oil source:"daily ledger"', {"d1", "d2"}, {"d1"})
    only("author:smith oil", {"w1", "d1"}, {"w1", "d1"})
    only("url:harbor.example oil", {"w1", "w2"}, {"w1", "w2"})
    only("date:2024-03 oil", {"w1", "d1"}, {"w1", "d1"})
    only("date:[2024-05-01 TO] oil", {"w2", "d2"}, {"w2"})
    only("title:pipeline oil", {"w1"}, {"w1"})
    only('oil NOT source:"Harbor Wire"', {"d1", "d2"}, {"d1"})
    only('-author:smith oil', {"w2", "d2"}, {"w2"})
    only('source:"Harbor Wire" author:smith oil', {"w1"}, {"w1"})


def test_field_clauses_alone_list_what_they_allow(engine):
    assert ids(engine, "author:park", "hybrid") == {"d2"}
    assert {r.article.id for r in engine.search(SearchRequest("author:park")).results} == {"d2"}  # floor on


def test_unknown_field_is_an_error_naming_the_fields(engine, runner, fielded):
    with pytest.raises(BadRequest, match="unknown field 'foo'.*title, body, source, author, date, url"):
        engine.search(SearchRequest("foo:bar oil"))
    result = run(runner, "search", "foo:bar oil", "--index", fielded)
    assert result.exit_code == 2 and "unknown field 'foo'" in result.stderr and "author" in result.stderr


def test_text_that_only_looks_like_a_field_is_text():
    assert split("meeting at 10:30").clauses == ()
    assert split("see https://example.org/x now").clauses == ()
    assert split('"ratio a:b" today').clauses == ()
    with pytest.raises(FieldError, match="not a date"):
        from search.retrieval.fields import date_range
        date_range("soon")


@pytest.mark.parametrize("args", [["--source", "Harbour Wire"], []])
def test_an_unknown_source_suggests_the_closest(runner, fielded, args):
    query = "oil" if args else 'source:"Harbour Wire" oil'
    result = run(runner, "search", query, "--index", fielded, *args)
    assert result.exit_code == 2
    assert "'Harbour Wire' is not in the index" in result.stderr and "did you mean 'Harbor Wire'" in result.stderr


def test_timeline_reads_field_clauses_too(runner, fielded):
    out = run(runner, "timeline", 'source:"Harbor Wire" oil', "--index", fielded, "-o", "json", "--by", "month")
    assert out.exit_code == 0
    assert sum(b["count"] for b in json.loads(out.stdout)["buckets"]) == 2  # w1 and w2, not d1
    assert run(runner, "timeline", "foo:bar oil", "--index", fielded).exit_code == 2
