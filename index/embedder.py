"""Load the sentence-transformers model from a local folder and turn text into unit vectors.

Two backends give the same vectors (cosine > 0.999):
- "onnx", the default when onnxruntime is installed and the model is Transformer -> mean/CLS
  pooling -> (Normalize): the transformer exported to ONNX once into a cache folder (the first
  use prints "preparing the ONNX model (once)"), run with ONNX Runtime; see index/onnx_backend.py.
  It loads in ~0.3 s instead of 3-5 s for torch + sentence-transformers.
- "torch": sentence-transformers on PyTorch, for every other model folder, or when the export
  fails (with one line on stderr).
$BYLINE_BACKEND=torch|onnx overrides the choice.

Where a CUDA device is present ($BYLINE_DEVICE=cuda|cpu overrides the check), encoding runs on
it: ONNX Runtime with its CUDA provider when the installed build has one (onnxruntime-gpu),
else sentence-transformers on PyTorch's CUDA device.

With ONNX, passages (`encode`) go through the int8 model, 2.8x the speed of sentence-transformers
on PyTorch, and queries (`encode_queries`) through the fp32 one: a query is a few tokens, and
keeping its side exact halves MiniLM's loss from int8 passages (SciFact nDCG@10 -0.0013
semantic, -0.0026 hybrid; docs/performance.md). mpnet, whose fp32 query takes 18 ms on 2 cores,
encodes queries with its int8 model too (5 ms; within 0.002 nDCG@10 of fp32 queries on every set:
`int8_queries` in index/models.py). $BYLINE_ONNX_INT8=0 encodes everything in fp32.

Nothing heavy is imported until text is first encoded, so commands that never embed (lexical
search, status, --help) start fast. Nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import cached_property

# Which model, and where it is, is index/models.py's job; these names are used from here too.
from index.models import MODELS, ModelInfo, ModelNotFound, resolve_model  # noqa: F401

BACKENDS = ("onnx", "torch")


class Embedder:
    """Encodes passages and queries with one sentence-transformers model, loaded on first use."""

    def __init__(self, info: ModelInfo, batch_size: int = 32, backend: str | None = None):
        self.info = info
        self.batch_size = batch_size
        self.requested_backend = (backend or os.environ.get("BYLINE_BACKEND") or "").strip().lower() or None
        if self.requested_backend not in (None, *BACKENDS):
            raise ValueError(f"unknown backend {self.requested_backend!r} (BYLINE_BACKEND); "
                             f"choose one of {', '.join(BACKENDS)}")

    def _load_onnx(self, int8: bool):
        """An ONNX Runtime encoder, or None when the torch backend is to be used."""
        if self.requested_backend == "torch":
            return None
        from index import onnx_backend

        try:
            if importlib.util.find_spec("onnxruntime") is None:
                raise onnx_backend.UnsupportedModel("onnxruntime is not installed")
            if self.requested_backend is None and onnx_backend.cuda_device() \
                    and onnx_backend.providers() == ["CPUExecutionProvider"]:
                raise onnx_backend.UnsupportedModel("a CUDA device, and an ONNX Runtime without CUDA")
            return onnx_backend.OnnxEncoder(self.info.path, self.info.name, self.info.max_seq_length,
                                            batch_size=self.batch_size, int8=int8)
        except Exception as exc:  # no export (or an unwritable cache): sentence-transformers still works
            if self.requested_backend == "onnx":
                raise
            if not isinstance(exc, onnx_backend.UnsupportedModel):  # a failed export: say so once
                print(f"byline: {exc}; using sentence-transformers instead", file=sys.stderr)
            return None

    @property
    def int8_passages(self) -> bool:
        """Whether passages are meant for the int8 model: ONNX, and not $BYLINE_ONNX_INT8=0
        (decided without loading anything; a model ONNX cannot run still falls back to torch)."""
        from index import onnx_backend

        return self.requested_backend != "torch" and onnx_backend.int8_requested()

    @cached_property
    def _onnx(self):
        """The passage encoder: int8 unless $BYLINE_ONNX_INT8=0, then the query encoder itself."""
        return self._load_onnx(True) if self.int8_passages else self._query_onnx

    @property
    def int8_queries(self) -> bool:
        """Whether queries go through the int8 model too: for a named model measured to lose
        nothing by it (index/models.py), when passages do."""
        named = MODELS.get(self.info.source)
        return bool(named and named.int8_queries) and self.int8_passages

    @cached_property
    def _query_onnx(self):
        """The query encoder: fp32, or the passages' int8 model where `int8_queries`."""
        return self._onnx if self.int8_queries else self._load_onnx(False)

    @property
    def backend(self) -> str:
        """The backend that encodes passages, "onnx" or "torch" (decided, and the model loaded,
        on first use)."""
        return "onnx" if self._onnx is not None else "torch"

    @property
    def query_backend(self) -> str:
        """The backend that encodes queries (loads the query model)."""
        return "onnx" if self._query_onnx is not None else "torch"

    @cached_property
    def model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        import torch

        from index.onnx_backend import cuda_device

        device = "cuda" if cuda_device() and torch.cuda.is_available() else "cpu"
        return SentenceTransformer(str(self.info.path), device=device, local_files_only=True)

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
        """Passages: unit-length float32 vectors, one row per text."""
        return self._encode(texts, query=False)

    def encode_with_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]):
        """Passages and, for each, vectors of character spans of its text (its sentences):
        (matrix, [a (len(spans[i]), dim) float32 matrix per text]). With ONNX a span's vector
        is the mean of the passage's token embeddings inside it, at no extra encoding cost;
        with torch each span is encoded on its own."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.info.dimension), dtype="float32"), []
        if self._onnx is not None:
            return self._onnx.encode_spans(list(texts), spans)
        matrix = self.encode(texts)
        pieces = [text[a:b] for text, text_spans in zip(texts, spans) for a, b in text_spans]
        flat = self.encode(pieces) if pieces else np.zeros((0, self.info.dimension), dtype="float32")
        out, at = [], 0
        for text_spans in spans:
            out.append(flat[at:at + len(text_spans)])
            at += len(text_spans)
        return matrix, out

    def encode_queries(self, texts: list[str]):
        """Queries: unit-length float32 vectors, one row per text, through the fp32 model (the
        int8 one for a model whose `int8_queries` is set). Through the int8 model each query is
        encoded by itself: it quantizes activations with one scale for a whole batch, so a query
        encoded beside others (a server's batch, `--queries`) would get a vector a little
        different from its own, and results different from the same search made alone."""
        if self.int8_queries and len(texts) > 1:
            import numpy as np

            return np.vstack([self._encode([text], query=True) for text in texts])
        return self._encode(texts, query=True)

    def _encode(self, texts: list[str], query: bool):
        import numpy as np

        if not texts:
            return np.zeros((0, self.info.dimension), dtype="float32")
        onnx = self._query_onnx if query else self._onnx
        if onnx is not None:
            return onnx.encode(list(texts))
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype="float32")
