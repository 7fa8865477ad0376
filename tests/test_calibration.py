"""Tuned values as data (search/calibration.py): one file per model, selected by the index's model."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from search import calibration
from search.answering.answers import Answerer, AnswerWeights
from search.calibration import CalibrationError, parse
from search.ranking.ranker import Ranker, SearchOptions
from search.retrieval.opened import OpenIndex

FOLDER = Path(calibration.__file__).parent / "calibrations"
REQUEST_FIELDS = {"mode", "k", "filters", "fusion"}  # what a request sets; never calibrated


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.json")), ids=lambda p: p.stem)
def test_every_calibration_names_real_fields_and_says_where_each_was_measured(path):
    c = calibration.load(path.stem)
    assert c.model == path.stem
    ranking_fields = {f.name for f in fields(SearchOptions)} - REQUEST_FIELDS
    assert set(c.ranking) <= ranking_fields
    assert set(c.answers) <= {f.name for f in fields(AnswerWeights)}
    for key in (*c.ranking, *c.answers):
        assert "docs/" in c.provenance.get(key, ""), f"{path.name}: {key} has no provenance in docs/"
    c.ranked(SearchOptions()), c.answering(AnswerWeights())  # no unknown field


def test_the_dataclass_defaults_are_minilms_file():
    raw = json.loads((FOLDER / "minilm.json").read_text())
    options, weights = SearchOptions(), AnswerWeights()
    assert {k: getattr(options, k) for k in raw["ranking"]} == raw["ranking"]
    assert {k: getattr(weights, k) for k in raw["answers"]} == raw["answers"]
    # every tuned field is in the file (a field added with a bare number would slip past it)
    assert set(raw["ranking"]) == {f.name for f in fields(SearchOptions)} - REQUEST_FIELDS - {"depth", "bm25", "semantic_evidence"}
    assert set(raw["answers"]) == {f.name for f in fields(AnswerWeights)}


@pytest.mark.parametrize("model_name, expected", [
    ("sentence-transformers/all-MiniLM-L6-v2", "minilm"), ("all-MiniLM-L6-v2", "minilm"),
    ("/models/all-mpnet-base-v2/", "mpnet"), ("C:\\models\\all-mpnet-base-v2", "mpnet"),
    ("sentence-transformers/all-mpnet-base-v2", "mpnet"),
    ("some-other-model", "minilm"), ("", "minilm"), (None, "minilm"), ("../../etc", "minilm"),
])
def test_the_index_model_selects_its_calibration(model_name, expected):
    assert calibration.name_for(model_name) == expected
    assert calibration.for_model(model_name).model == expected


def test_an_open_index_passes_its_calibration_down(sample_index):
    ix = OpenIndex(sample_index)
    try:
        assert ix.calibration.model == calibration.name_for(ix.manifest.model_name) == "minilm"
        assert Ranker(ix).options == ix.calibration.ranked(SearchOptions())
        assert Answerer(ix).weights == ix.calibration.answering(AnswerWeights())
        other = parse(json.dumps({"model": "x", "ranking": {"semantic_weight": 0.3, "rrf_k": 60.0},
                                  "answers": {"threshold": 0.4}}), "x.json")
        assert other.ranked(SearchOptions(k=7)) == SearchOptions(k=7, semantic_weight=0.3, rrf_k=60.0)
        assert Answerer(ix, other.answering(AnswerWeights())).weights.threshold == 0.4
    finally:
        ix.close()


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ("[]", "expected an object"),
    ('{"model": "x", "weights": {}}', "unknown section(s) weights"),
    ('{"model": "x", "ranking": [1]}', "'ranking' must be an object"),
])
def test_a_bad_calibration_names_the_file_and_the_problem(text, message):
    with pytest.raises(CalibrationError, match="bad.json") as err:
        parse(text, "bad.json")
    assert message in str(err.value)


def test_a_calibration_naming_no_field_fails_clearly():
    c = parse('{"model": "x", "ranking": {"semantic_wieght": 0.5}}', "typo.json")
    with pytest.raises(CalibrationError, match="typo.json: 'ranking' names semantic_wieght, not fields of SearchOptions"):
        c.ranked(SearchOptions())
