"""Open an index for searching: check its manifest, then open each part only when needed."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from index import lexical as lexical_index
from index import vectors
from index.embedder import Embedder, ModelNotFound, resolve_model
from index.layout import IndexPaths
from index.manifest import IndexProblem, load_manifest
from index.store import ArticleStore


class OpenIndex:
    """A read-only view of one index directory. The model loads on the first semantic query."""

    def __init__(self, root: Path, model: str | os.PathLike | None = None):
        self.paths = IndexPaths(Path(root))
        self.manifest = load_manifest(self.paths)
        if not self.paths.generation(self.manifest.generation).is_dir():
            # A writer may have committed a newer generation and removed this one meanwhile.
            self.manifest = load_manifest(self.paths)
        self.generation = self.manifest.generation
        if not self.paths.store.is_file() or not self.paths.generation(self.generation).is_dir():
            raise IndexProblem(f"index {self.paths.root} is damaged: generation {self.generation} or its "
                               "article store is missing; run: byline doctor --repair")
        self.store = ArticleStore(self.paths.store, self.generation, readonly=True)
        self._model_spec = model

    @cached_property
    def lexical(self):
        try:
            return lexical_index.open_existing(self.paths.lexical(self.generation))
        except Exception as exc:
            raise IndexProblem(f"lexical index in {self.paths.lexical(self.generation)} cannot be opened: {exc}") from None

    @cached_property
    def vectors(self):
        try:
            return vectors.load(self.paths.vectors(self.generation), self.manifest.dimension, mapped=True)
        except OSError as exc:
            raise IndexProblem(str(exc)) from None

    @cached_property
    def embedder(self) -> Embedder:
        try:
            info = resolve_model(self._model_spec)
        except ModelNotFound as exc:
            raise IndexProblem(str(exc)) from None
        self.manifest.check_model(info.name, info.dimension)
        return Embedder(info)

    def close(self) -> None:
        self.store.close()
