"""Remembered `--field` mappings: the mappings given for a file or folder are kept with the index
(in the article store's meta table, inside the run's transaction, so they commit with the
articles), and later runs over the same files read them the same way without repeating them.

A file is read with the mappings stored for it and for the folders above it (the nearer one
wins), then this run's own mappings on top. New mappings given for a path replace, attribute by
attribute, what was stored for it and for the paths under it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from index.readers import FieldMap

META_KEY = "field_mappings"


def load(meta: dict[str, str]) -> dict[str, dict[str, str]]:
    """The stored mappings ({absolute path: {attribute: record field}}) from a store's meta."""
    try:
        data = json.loads(meta.get(META_KEY) or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {p: {a: n for a, n in m.items() if isinstance(n, str)} for p, m in data.items() if isinstance(m, dict)}


def describe(mapping: dict[str, str]) -> str:
    """`date=pub_time, text=story`, as the user would give them with --field."""
    return ", ".join(f"{a}={n}" for a, n in sorted(mapping.items()))


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@dataclass
class FieldMemory:
    """The mappings of one run: those stored with the index and those given now."""

    stored: dict[str, dict[str, str]]
    given: dict[str, str]
    applied: dict[str, dict[str, str]] = field(default_factory=dict)  # remembered ones used this run

    @classmethod
    def from_store(cls, store, given: FieldMap | None) -> FieldMemory:
        return cls(load(store.meta()), dict(given.overrides) if given else {})

    def for_file(self, path: Path | str) -> FieldMap:
        """The mappings to read `path` with; notes the remembered ones it uses."""
        path = os.path.abspath(path)
        merged: dict[str, str] = {}
        for folder in sorted((p for p in self.stored if _under(path, p)), key=len):
            remembered = {a: n for a, n in self.stored[folder].items() if a not in self.given}
            if remembered:
                self.applied[folder] = remembered
            merged.update(self.stored[folder])
        merged.update(self.given)
        return FieldMap(merged)

    def remember(self, sources: list[Path]) -> bool:
        """Store this run's mappings for `sources`; returns whether anything changed."""
        if not self.given:
            return False
        before = json.dumps(self.stored, sort_keys=True)
        for source in sources:
            source = os.path.abspath(source)
            for path in [p for p in self.stored if _under(p, source)]:
                self.stored[path].update(self.given)
            self.stored.setdefault(source, {}).update(self.given)
        return json.dumps(self.stored, sort_keys=True) != before

    def save(self, store) -> None:
        store.set_meta({META_KEY: json.dumps(self.stored, sort_keys=True)})
