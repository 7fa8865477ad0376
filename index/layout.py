"""Where an index lives on disk and the files inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_index_dir() -> Path:
    """$BYLINE_INDEX, else byline/index under the user's data folder ($XDG_DATA_HOME)."""
    if os.environ.get("BYLINE_INDEX"):
        return Path(os.environ["BYLINE_INDEX"]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "byline" / "index"


@dataclass(frozen=True)
class IndexPaths:
    """The files of one index directory."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def store(self) -> Path:
        return self.root / "articles.sqlite"

    @property
    def lexical(self) -> Path:
        return self.root / "lexical"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors.faiss"

    @property
    def write_lock(self) -> Path:
        return self.root / "write.lock"
