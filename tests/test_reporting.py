"""What the user is told: TREC query ids are written as given or refused, never as Python repr;
every skipped article is printed with its reason, duplicates included."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from search.frontends.cli import app
from search.queries import QueryFileError, read_queries


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_integer_and_string_query_ids_are_written_as_given(sample_index, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"_id": 7, "text": "sanctions"}) + "\n"
                       + json.dumps({"_id": "q-2", "text": "railway strike"}) + "\n")
    result = run("search", "--queries", queries, "--index", sample_index, "--mode", "lexical", "-o", "trec", "-k", "1")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["7", "q-2"]


@pytest.mark.parametrize("qid", [None, True, 1.5, [1, 2], {"a": 1}, "", "two words"])
def test_query_ids_that_trec_cannot_hold_are_refused(sample_index, tmp_path, qid):
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"text": "sanctions"}) + "\n" + json.dumps({"_id": qid, "text": "sanctions"}) + "\n")
    with pytest.raises(QueryFileError, match=r"q\.jsonl:2: query id"):
        read_queries(queries)
    result = run("search", "--queries", queries, "--index", sample_index, "--mode", "lexical", "-o", "trec")
    assert result.exit_code == 2 and "query id" in result.output and result.stdout == ""


def test_duplicate_id_skip_is_printed_with_its_reason(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"id": "x1", "title": "Tram opens", "text": "The tram line opened."}) + "\n"
                    + json.dumps({"id": "x1", "title": "Tram delayed", "text": "The tram line is late."}) + "\n")
    result = run("index", "add", feed, "--index", tmp_path / "ix")
    assert result.exit_code == 0
    assert "duplicate article id 'x1'" in " ".join(result.output.split()), result.output
