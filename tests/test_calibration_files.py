"""The per-model calibration files (search/calibrations/<model>.json) in the shared format: their
ranking and answer values are fields of SearchOptions and AnswerWeights (so `replace(...)` turns
a file into those dataclasses), and every value says where it was measured."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from search.answering.answers import AnswerWeights
from search.ranking.ranker import SearchOptions

FOLDER = Path(__file__).resolve().parent.parent / "search" / "calibrations"


def files() -> list[Path]:
    return sorted(FOLDER.glob("*.json"))


def test_mpnet_has_a_calibration():
    assert (FOLDER / "mpnet.json").is_file()


@pytest.mark.parametrize("path", files(), ids=lambda p: p.name)
def test_values_are_option_fields_with_provenance(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["model"] == path.stem
    options = replace(SearchOptions(), **data.get("ranking", {}))
    weights = replace(AnswerWeights(), **data.get("answers", {}))
    for key, value in data.get("ranking", {}).items():
        assert getattr(options, key) == value
    for key, value in data.get("answers", {}).items():
        assert getattr(weights, key) == value
    provenance = data["provenance"]
    for key in data.get("ranking", {}):
        assert provenance.get(key), f"{path.name}: no provenance for ranking value {key}"
    for key in data.get("answers", {}):
        assert provenance.get(key) or provenance.get("answers"), f"{path.name}: no provenance for {key}"
