"""Tuned numbers as data: one calibration per embedding model, in search/calibrations/<name>.json.

A calibration holds every value measured for a model (fusion weights, query feedback, sentence
evidence, the lead ramp, answer weights and threshold, the relevance floor) and where each was
measured ("provenance": a docs/ section). Its "ranking" keys are fields of
`search.ranking.ranker.SearchOptions`, its "answers" keys fields of
`search.answering.answers.AnswerWeights`, so the modules keep only the logic: their dataclasses
take their defaults from minilm.json (`DEFAULT`), and the engine applies the index's own
calibration (`for_model(manifest.model_name)`) with `ranked` and `answering`. A model without a
file uses minilm's values.

This module imports nothing of `search`: every layer may read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, is_dataclass, replace
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping, TypeVar

SECTIONS = ("ranking", "answers", "floor", "provenance")
FALLBACK = "minilm"
# The index's model (its manifest's model_name, a path's last part) -> the calibration's name.
NAMES = {"all-minilm-l6-v2": "minilm", "all-mpnet-base-v2": "mpnet"}

T = TypeVar("T")


class CalibrationError(ValueError):
    """A calibration file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Calibration:
    model: str
    ranking: Mapping[str, Any] = field(default_factory=dict)
    answers: Mapping[str, Any] = field(default_factory=dict)
    floor: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, str] = field(default_factory=dict)
    source: str = ""  # the file it was read from

    def ranked(self, options: T) -> T:
        """`options` (a SearchOptions) with this model's tuned ranking values."""
        return self._apply(options, "ranking")

    def answering(self, weights: T) -> T:
        """`weights` (an AnswerWeights) with this model's tuned answer values."""
        return self._apply(weights, "answers")

    def floored(self, params: T) -> T:
        """`params` (a search.ranking.floor.FloorParams) with this model's relevance floor."""
        return self._apply(params, "floor")

    def _apply(self, target: T, section: str) -> T:
        values = getattr(self, section)
        unknown = sorted(set(values) - {f.name for f in fields(target)}) if is_dataclass(target) else []
        if unknown:
            raise CalibrationError(f"calibration {self.source}: {section!r} names {', '.join(unknown)}, "
                                   f"not fields of {type(target).__name__}")
        return replace(target, **values)


def name_for(model_name: str | None) -> str:
    """The calibration's name for an index's model: "sentence-transformers/all-MiniLM-L6-v2" ->
    "minilm"; a model without a calibration file -> minilm's."""
    key = (model_name or "").replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    name = NAMES.get(key, key)
    return name if name and _exists(name) else FALLBACK


def for_model(model_name: str | None) -> Calibration:
    """The calibration of the index's model (minilm's when it has none)."""
    return load(name_for(model_name))


@lru_cache(maxsize=None)
def load(name: str) -> Calibration:
    """search/calibrations/<name>.json, checked."""
    source = f"search/calibrations/{name}.json"
    try:
        text = _file(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"no calibration {source}") from None
    except OSError as exc:
        raise CalibrationError(f"calibration {source} cannot be read: {exc}") from None
    return parse(text, source)


def parse(text: str, source: str) -> Calibration:
    """A calibration from its JSON text; `source` names it in errors."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CalibrationError(f"calibration {source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        raise CalibrationError(f"calibration {source}: expected an object with a \"model\" name")
    extra = sorted(set(data) - {"model", *SECTIONS})
    if extra:
        raise CalibrationError(f"calibration {source}: unknown section(s) {', '.join(extra)}; "
                               f"known: model, {', '.join(SECTIONS)}")
    sections = {}
    for section in SECTIONS:
        value = data.get(section, {})
        if not isinstance(value, dict):
            raise CalibrationError(f"calibration {source}: {section!r} must be an object")
        sections[section] = MappingProxyType(dict(value))
    return Calibration(data["model"], **sections, source=source)


def _file(name: str):
    return resources.files("search") / "calibrations" / f"{name}.json"


def _exists(name: str) -> bool:
    return _file(name).is_file()


DEFAULT = load(FALLBACK)
