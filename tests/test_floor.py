"""The relevance floor: hybrid and semantic results with no evidence for the query are not
listed (search/ranking/floor.py), in the CLI, HTTP and the engine alike; --all lists them."""

from __future__ import annotations

import json

import pytest

from search.engine import Engine, SearchRequest
from search.frontends.http import search_request

from conftest import run

OFF_TOPIC = "how to tie a bowline knot"


@pytest.fixture(scope="module")
def engine(sample_index):
    e = Engine(sample_index)
    yield e
    e.close()


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_an_off_topic_query_lists_no_article_and_exits_1(runner, sample_index, mode):
    table = run(runner, "search", OFF_TOPIC, "--index", sample_index, "--mode", mode, "-o", "table")
    assert table.exit_code == 1 and "no article matches" in table.stdout
    data = json.loads(run(runner, "search", OFF_TOPIC, "--index", sample_index, "--mode", mode, "-o", "json").stdout)
    assert data["results"] == []


@pytest.mark.parametrize("flag", ["--all", "--no-floor"])
def test_all_lists_the_tail(runner, sample_index, flag):
    listed = run(runner, "search", OFF_TOPIC, "--index", sample_index, flag, "-k", "5", "-o", "ids")
    assert listed.exit_code == 0 and len(listed.stdout.split()) == 5


def test_relevant_articles_stay_and_the_unrelated_tail_goes(engine):
    everything = engine.search(SearchRequest("rail strike", k=10, floor=False)).results
    floored = engine.search(SearchRequest("rail strike", k=10)).results
    ids = [r.article.id for r in floored]
    assert "2023-01-26-railway-strike.txt" in ids and "2023-02-09-rail-union-accepts-deal.txt" in ids
    assert len(floored) < len(everything)
    assert [r.rank for r in floored] == list(range(1, len(floored) + 1))
    assert not {"2022-05-19-sea-turtle-nesting-record.txt", "2021-05-20-film-festival-opens.txt"} & set(ids)


def test_a_question_keeps_its_answering_article(engine):
    found = engine.search(SearchRequest("who proposed talks without preconditions", k=10)).results
    assert found and found[0].article.id in {"2022-01-14-north-korea-talks.txt", "north-korea-missile-tests.txt"}


def test_lexical_mode_is_not_floored(engine):
    # Its results hold the query's words by construction: a one-word match still counts.
    found = engine.search(SearchRequest("nesting", k=10, mode="lexical")).results
    assert [r.article.id for r in found] == ["2022-05-19-sea-turtle-nesting-record.txt"]


def test_http_all_turns_the_floor_off_through_the_engine(engine):
    assert search_request({"q": OFF_TOPIC}).floor is True
    request = search_request({"q": OFF_TOPIC, "all": "true", "k": "3"})
    assert request.floor is False
    assert len(engine.search(request).results) == 3
    assert engine.search(search_request({"q": OFF_TOPIC})).to_dict()["results"] == []


def test_answer_says_nothing_when_no_article_matches(runner, sample_index):
    result = run(runner, "search", "-a", OFF_TOPIC, "--index", sample_index)
    assert result.exit_code == 1 and result.stdout.strip() == "no answer"  # no "(top result: ...)"


def test_mcp_search_floors_and_all_lists(sample_index):
    from test_mcp import _session

    async def script(client):
        floored = await client.call_tool("search", {"query": OFF_TOPIC, "k": 3})
        listed = await client.call_tool("search", {"query": OFF_TOPIC, "k": 3, "all": True})
        return floored.structured_content, listed.structured_content

    floored, listed = _session(sample_index, script)
    assert floored["results"] == [] and len(listed["results"]) == 3
