"""Run a sentence-transformers model with ONNX Runtime: fast to start, fast to encode on a CPU.

The model's transformer is exported to ONNX once, with torch, into a cache folder
($BYLINE_CACHE, else $XDG_CACHE_HOME/byline, else ~/.cache/byline), under a subfolder named
by the model and a hash of its folder path and weight file (size, mtime), so a changed or moved
model gets a new export. The export runs in a child Python process, so the process that
encodes never imports torch, transformers or sentence-transformers: only onnxruntime,
tokenizers and numpy. The file is written under a temporary name and renamed into place, and a
lock file keeps two processes from exporting the same model at once.

Only the pipelines this module can reproduce exactly are supported: Transformer -> Pooling
(mean or CLS) -> optional Normalize, with a fast tokenizer (tokenizer.json). `supported()`
says why another folder is not, and the caller then uses sentence-transformers instead.

Each `encode` call tokenizes every text, sorts them by length and runs batches of similar
lengths (little padding), then pools, normalizes and returns the rows in the original order.

`BYLINE_ONNX_INT8=1` uses an int8 dynamically quantized copy of the export instead (made once
beside it; needs the `onnx` package, which byline does not install). It encodes faster, but
moves vectors slightly (cosine ~0.99 to fp32), so it is off by default.

Run as a script (`python onnx_backend.py export MODEL_DIR OUT.onnx [INT8.onnx]`) it does the
export itself; `ensure_export()` starts it that way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

EXPORT_FORMAT = 1  # bump when the export recipe changes, so caches are redone
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
_KNOWN_MODULES = {"Transformer", "Pooling", "Normalize"}
_POOLING_FLAGS = ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                  "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                  "pooling_mode_lasttoken")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class OnnxUnavailable(Exception):
    """This model cannot be run with ONNX Runtime here (the export failed)."""


class UnsupportedModel(OnnxUnavailable):
    """The model folder's pipeline is not one this module reproduces, or onnxruntime is missing."""


# --- what can be run -----------------------------------------------------------------------

def pipeline(model_dir: Path) -> dict:
    """How to run the folder's model: {'transformer': folder, 'pooling': 'mean'|'cls',
    'lowercase': bool}. Raises OnnxUnavailable for pipelines this module cannot reproduce."""
    model_dir = Path(model_dir)
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        raise UnsupportedModel(f"no modules.json in {model_dir}")
    modules = json.loads(modules_file.read_text())
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if not modules or any(not str(m.get("type", "")).startswith("sentence_transformers.") for m in modules) \
            or any(k not in _KNOWN_MODULES for k in kinds) \
            or kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        raise UnsupportedModel(f"unsupported module pipeline {kinds} in {model_dir}")
    transformer = model_dir / (modules[0].get("path") or "")
    pooling_config = model_dir / (modules[1].get("path") or "") / "config.json"
    if not pooling_config.is_file():
        raise UnsupportedModel(f"no pooling config in {model_dir}")
    flags = json.loads(pooling_config.read_text())
    on = [f for f in _POOLING_FLAGS if flags.get(f)]
    modes = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
    if len(on) != 1 or on[0] not in modes or flags.get("include_prompt", True) is False:
        raise UnsupportedModel(f"unsupported pooling {on} in {model_dir}")
    if not (transformer / "tokenizer.json").is_file():
        raise UnsupportedModel(f"no tokenizer.json (fast tokenizer) in {transformer}")
    if weight_file(transformer) is None:
        raise UnsupportedModel(f"no model.safetensors or pytorch_model.bin in {transformer}")
    st_config = transformer / "sentence_bert_config.json"
    lowercase = bool(json.loads(st_config.read_text()).get("do_lower_case")) if st_config.is_file() else False
    return {"transformer": transformer, "pooling": modes[on[0]], "lowercase": lowercase}


def weight_file(transformer: Path) -> Path | None:
    for name in _WEIGHT_FILES:
        if (transformer / name).is_file():
            return transformer / name
    return None


# --- the cache -----------------------------------------------------------------------------

def cache_root() -> Path:
    explicit = os.environ.get("BYLINE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "byline"


def export_dir(model_dir: Path, name: str) -> Path:
    """The cache folder for one model: its name plus a hash of where it is and its weights."""
    transformer = pipeline(model_dir)["transformer"]
    weights = weight_file(transformer)
    stat = weights.stat()
    key = f"{EXPORT_FORMAT}\0{Path(model_dir).resolve()}\0{weights.name}\0{stat.st_size}\0{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1]).strip("._") or "model"
    return cache_root() / "onnx" / f"{safe}-{digest}"


def ensure_export(model_dir: Path, name: str, int8: bool = False) -> Path:
    """The path of the model's ONNX file, exporting it first (once) when the cache lacks it."""
    folder = export_dir(model_dir, name)
    target = folder / ("model.int8.onnx" if int8 else "model.onnx")
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(folder / "export.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process exporting: wait, then reuse its file
        if target.is_file():
            return target
        print("preparing the ONNX model (once)", file=sys.stderr, flush=True)
        # -P: do not put this folder (index/) first on sys.path, where its modules could shadow others
        command = [sys.executable, "-P", str(Path(__file__).resolve()), "export", str(model_dir),
                   str(folder / "model.onnx")] + ([str(target)] if int8 else [])
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false"}
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        if done.returncode != 0 or not target.is_file():
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
            raise OnnxUnavailable("ONNX export failed: " + " | ".join(tail))
        (folder / "source.json").write_text(json.dumps({"model": str(model_dir), "name": name}) + "\n")
    return target


# --- the export (child process; imports torch) ---------------------------------------------

def _export(model_dir: Path, out: Path, int8_out: Path | None) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    spec = pipeline(model_dir)
    if not out.is_file():
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        model = AutoModel.from_pretrained(str(spec["transformer"]), local_files_only=True,
                                          attn_implementation="eager").eval()
        import inspect

        accepted = inspect.signature(model.forward).parameters
        names = [n for n in INPUT_NAMES if n in accepted]

        class LastHidden(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, *tensors):
                return self.inner(**dict(zip(names, tensors)), return_dict=True).last_hidden_state

        ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102, 0, 0], [101, 2178, 2028, 102, 0, 0, 0, 0]])
        ids = ids.clamp(max=model.config.vocab_size - 1)
        mask = (torch.arange(8) < torch.tensor([[6], [4]])).long()
        sample = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
        axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
        _allow_export_without_onnx_package()
        temp = _temp_beside(out)
        try:
            with torch.no_grad():
                torch.onnx.export(LastHidden(model), tuple(sample[n] for n in names), str(temp), dynamo=False,
                                  input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                                  opset_version=OPSET, do_constant_folding=True)
            os.replace(temp, out)
        finally:
            temp.unlink(missing_ok=True)
    if int8_out is not None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        temp = _temp_beside(int8_out)
        try:
            quantize_dynamic(str(out), str(temp), weight_type=QuantType.QInt8)
            os.replace(temp, int8_out)
        finally:
            temp.unlink(missing_ok=True)


def _temp_beside(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp makes it private; the cache is readable like any file
    return Path(name)


def _allow_export_without_onnx_package() -> None:
    """torch's TorchScript exporter writes the model itself but then imports the `onnx` package
    only to splice in custom onnxscript functions, which a transformer does not have. Without
    `onnx` installed, skip that step rather than fail."""
    try:
        import onnx  # noqa: F401
        return
    except ImportError:
        pass
    from torch.onnx._internal.torchscript_exporter import onnx_proto_utils, utils

    def no_custom_functions(model_bytes, custom_opsets):
        return model_bytes

    onnx_proto_utils._add_onnxscript_fn = no_custom_functions
    if getattr(utils, "onnx_proto_utils", None) is not None:
        utils.onnx_proto_utils._add_onnxscript_fn = no_custom_functions


# --- encoding (imports onnxruntime, tokenizers, numpy only) --------------------------------

class OnnxEncoder:
    """Encodes texts with an exported model: length-sorted batches, pooling, L2 normalization."""

    def __init__(self, model_dir: Path, name: str, max_seq_length: int, batch_size: int = 32,
                 int8: bool | None = None):
        self.model_dir = Path(model_dir)
        self.spec = pipeline(self.model_dir)
        self.name = name
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.int8 = os.environ.get("BYLINE_ONNX_INT8", "") not in ("", "0") if int8 is None else int8
        self.path = ensure_export(self.model_dir, name, int8=self.int8)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        tokenizer = Tokenizer.from_file(str(self.spec["transformer"] / "tokenizer.json"))
        padding = tokenizer.padding
        self.pad_id = int(padding["pad_id"]) if padding else _pad_id(tokenizer, self.spec["transformer"])
        tokenizer.no_padding()  # padded per batch below, to that batch's longest text
        tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer = tokenizer

    def encode(self, texts: list[str]):
        import numpy as np

        if self.spec["lowercase"]:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        out = None
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            width = int(lengths[rows[0]])
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                e, n = encodings[row], lengths[row]
                ids[i, :n], mask[i, :n], types[i, :n] = e.ids, 1, e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self.session.run(None, {n: feed[n] for n in self.inputs})[0]
            if self.spec["pooling"] == "cls":
                pooled = hidden[:, 0, :]
            else:
                weights = mask[:, :, None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[rows] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


def _pad_id(tokenizer, transformer: Path) -> int:
    special = transformer / "special_tokens_map.json"
    candidates = []
    if special.is_file():
        pad = json.loads(special.read_text()).get("pad_token")
        candidates.append(pad.get("content") if isinstance(pad, dict) else pad)
    candidates += ["[PAD]", "<pad>"]
    for token in candidates:
        if token and tokenizer.token_to_id(token) is not None:
            return tokenizer.token_to_id(token)
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] != "export":
        sys.exit("usage: onnx_backend.py export MODEL_DIR OUT.onnx [INT8_OUT.onnx]")
    _export(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]) if len(sys.argv) == 5 else None)
