"""Where an index lives on disk and the files inside it.

An index folder holds `manifest.json` (which names the committed generation), the SQLite article
store, and one `gen-NNNNNN/` folder per recent generation with its Whoosh and FAISS indexes.
"""

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

    def generation(self, number: int) -> Path:
        """The folder of one committed (or being written) generation of the derived indexes."""
        return self.root / f"gen-{number:06d}"

    def lexical(self, number: int) -> Path:
        return self.generation(number) / "lexical"

    def article_lexical(self, number: int) -> Path:
        """The generation's Whoosh index of whole articles (absent in indexes made before it)."""
        return self.generation(number) / "articles"

    def vectors(self, number: int) -> Path:
        return self.generation(number) / "vectors.faiss"

    def generations(self) -> list[int]:
        """Numbers of the generation folders present on disk."""
        out = []
        for p in self.root.glob("gen-*"):
            suffix = p.name[4:]
            if suffix.isdigit():
                out.append(int(suffix))
        return sorted(out)

    @property
    def write_lock(self) -> Path:
        return self.root / "write.lock"

    @property
    def first_run_marker(self) -> Path:
        """Written before anything else in a new index and removed at its first commit: with
        it, a folder without a manifest is certainly an interrupted first run."""
        return self.root / "first-run.incomplete"
