"""Run a sentence-transformers model with ONNX Runtime: fast to start, fast to encode on a CPU.

The model's transformer is exported to ONNX once, with torch, into a cache folder
($BYLINE_CACHE, else $XDG_CACHE_HOME/byline, else ~/.cache/byline), under a subfolder named
by the model and a hash of its folder path and weight file (size, mtime), so a changed or moved
model gets a new export; ONNX Runtime's optimized graph is then saved beside it (per ONNX
Runtime version, weights in a separate file) because that loads in ~0.1 s instead of ~0.5 s.
The export runs in a child Python process, so the process that encodes never imports torch,
transformers or sentence-transformers: only onnxruntime, tokenizers and numpy. Files are
written under temporary names and renamed into place, and a lock file keeps two processes from
exporting the same model at once (the second waits, then uses the first one's files).

Only the pipelines this module reproduces exactly are supported: Transformer -> Pooling (mean
or CLS) -> optional Normalize, with a fast tokenizer (tokenizer.json); `pipeline()` raises
UnsupportedModel for any other folder, and the caller then uses sentence-transformers.

Each `encode` call tokenizes every text (truncated to max_seq_length), sorts them by length and
runs batches of similar lengths (little padding), then pools, normalizes and returns float32
rows in the original order. fp32 vectors match sentence-transformers' (cosine > 0.999).

The int8 export (`int8=True`, the default for passages; $BYLINE_ONNX_INT8=0 turns it off) has
dynamically quantized weights and activations, with SmoothQuant on the layers whose inputs have
outlier channels (calibrated once, on index/calibration.txt). It encodes ~2x faster than fp32
(2.8x the sentence-transformers baseline). Its vectors are at cosine ~0.996 to fp32: an index
built with it and searched with int8 queries scores 0.0055 lower in semantic nDCG@10 on SciFact,
but searched with fp32 queries (what byline does) only 0.0013 lower (hybrid: 0.0026), within the
0.005 allowed (docs/performance.md).

Run as a script (`python onnx_backend.py export MODEL_DIR OUT.onnx [--int8]`) it does the
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

try:
    from index.filemode import new_file_mode
except ImportError:  # the export runs this file as a script, where `index` may not be importable
    def new_file_mode() -> int:
        mask = os.umask(0o022)  # the export's process has one thread
        os.umask(mask)
        return 0o666 & ~mask

# index.no_network's variables, repeated because the export runs this file as a script, outside
# the `index` package: no telemetry or model hub, in this process or the export's.
_NO_NETWORK = {"ORT_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "DO_NOT_TRACK": "1"}
os.environ.update(_NO_NETWORK)

INT8_DEFAULT = True  # BYLINE_ONNX_INT8=1|0 overrides
EXPORT_FORMAT = 4  # bump when the export recipe changes, so caches are redone
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
    'lowercase': bool}. Raises UnsupportedModel for pipelines this module cannot reproduce."""
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


def cuda_device() -> bool:
    """Whether to encode on a CUDA device: $BYLINE_DEVICE=cuda|cpu, else whether the NVIDIA
    driver's device files are there (decided without importing torch or onnxruntime)."""
    forced = os.environ.get("BYLINE_DEVICE", "").strip().lower()
    if forced:
        return forced == "cuda"
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg")


def providers(ort=None) -> list[str]:
    """ONNX Runtime's providers: CUDA first when there is a device and a build that has it
    (onnxruntime-gpu), else the CPU alone."""
    if cuda_device():
        if ort is None:
            import onnxruntime as ort
        if "CUDAExecutionProvider" in ort.get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def int8_requested() -> bool:
    value = os.environ.get("BYLINE_ONNX_INT8", "").strip().lower()
    return INT8_DEFAULT if not value else value not in ("0", "false", "no", "off")


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
    model_type = _model_type(transformer)
    if model_type in RECIPE_REVISION:
        key += f"\0{model_type}-{RECIPE_REVISION[model_type]}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1]).strip("._") or "model"
    return cache_root() / "onnx" / f"{safe}-{digest}"


def _model_type(transformer: Path) -> str:
    try:
        return str(json.loads((transformer / "config.json").read_text()).get("model_type", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def ensure_export(model_dir: Path, name: str, int8: bool = False) -> Path:
    """The model's ONNX file ready to load, made first (once) when the cache lacks it.

    Two steps, each done once: the torch export (`model.onnx`, or `model.int8.onnx`), then
    ONNX Runtime's graph optimizations saved for this ONNX Runtime version, with the weights in
    a separate file (`ort-VERSION/model.onnx` + `model.data`): loading that takes ~0.1 s where
    the single-file export takes ~0.5 s, which matters for a cold search."""
    import onnxruntime as ort

    folder = export_dir(model_dir, name)
    raw = folder / ("model.int8.onnx" if int8 else "model.onnx")
    ready = folder / f"ort-{ort.__version__}" / raw.name
    if ready.is_file():
        return ready
    folder.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(folder / "export.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process exporting: wait, then reuse its files
        if ready.is_file():
            return ready
        if not raw.is_file():
            _run_export(model_dir, raw, int8)
            (folder / "source.json").write_text(json.dumps({"model": str(model_dir), "name": name}) + "\n")
        try:
            _optimize(raw, ready)
        except Exception as exc:  # e.g. an ONNX Runtime that cannot save external weights
            print(f"byline: could not save the optimized ONNX model ({exc}); loading the export as is",
                  file=sys.stderr)
            return raw
    return ready


def _run_export(model_dir: Path, target: Path, int8: bool) -> None:
    kind = "int8 ONNX model for passages" if int8 else "ONNX model"
    print(f"preparing the {kind} (once)", file=sys.stderr, flush=True)
    # -P: do not put this folder (index/) first on sys.path, where its modules could shadow others
    command = [sys.executable, "-P", str(Path(__file__).resolve()), "export", str(model_dir), str(target)]
    command += ["--int8"] if int8 else []
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    env.update(_NO_NETWORK)
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0 or not target.is_file():
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
        raise OnnxUnavailable("ONNX export failed: " + " | ".join(tail))


def _optimize(raw: Path, ready: Path) -> None:
    """Save ONNX Runtime's optimized graph of `raw` as `ready`, weights beside it in a .data file.

    Level "extended" only: its fusions are portable, unlike "all" (layouts for this CPU), which
    is applied again when the session loads. Written in a temporary folder, then moved: the data
    file first, so a `ready` file that exists always has its weights."""
    import onnxruntime as ort

    ready.parent.mkdir(parents=True, exist_ok=True)
    data = ready.with_suffix(".data")
    with tempfile.TemporaryDirectory(dir=ready.parent, prefix=".tmp-") as temp:
        options = _session_options(ort, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
        options.optimized_model_filepath = str(Path(temp) / ready.name)
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", data.name)
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes",
                                         "1024")
        ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])
        for made in (Path(temp) / data.name, Path(temp) / ready.name):
            os.chmod(made, new_file_mode())
        os.replace(Path(temp) / data.name, data)
        os.replace(Path(temp) / ready.name, ready)


def _session_options(ort, level):
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = level
    options.log_severity_level = 3
    return options


# --- the export (child process; imports torch) ---------------------------------------------

def _export(model_dir: Path, out: Path, int8: bool) -> None:
    """Export the transformer (inputs ids/mask/types, output last_hidden_state; batch and
    sequence axes dynamic) to `out`; with `int8`, its Linear layers quantized first."""
    import inspect
    import warnings

    warnings.filterwarnings("ignore")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    spec = pipeline(model_dir)
    # eager attention: plain MatMul/Softmax ops that trace the padding mask faithfully
    model = AutoModel.from_pretrained(str(spec["transformer"]), local_files_only=True,
                                      attn_implementation="eager").eval()
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in INPUT_NAMES if n in accepted]
    if int8:
        _quantize_linears(model, spec, torch)

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
    temp = _temp_beside(out)
    try:
        with torch.no_grad():
            torch.onnx.export(LastHidden(model), tuple(sample[n] for n in names), str(temp), dynamo=False,
                              input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                              opset_version=OPSET, do_constant_folding=True)
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)


# Linear layers fed by a LayerNorm (BERT naming): their inputs carry a few outlier channels,
# which is what costs int8 its accuracy; SmoothQuant moves that range into the weights.
SMOOTHED_SUFFIXES = ("attention.self.query", "attention.self.key", "attention.self.value",
                     "intermediate.dense")
# Per model type (config.json's model_type), where BERT's names do not fit. MPNet (all-mpnet-base-v2):
# its FFN output layer (`output.dense`, fed by the GELU) is what int8 hurts, because a few tokens'
# activations there dwarf the rest and one scale per batch then rounds every other token coarsely.
# Cosine of int8 passage vectors to fp32 (40 BBC passages, int8 simulated in torch): BERT's names
# only 0.923; every Linear smoothed 0.983; output.dense in fp32 0.9992; output.dense in int8 with
# one activation scale per token 0.9985. Per token it is (recipe 3): 1.2x the passages/s of
# keeping it in fp32, nDCG@10 within 0.004 on every set (docs/models.md, docs/performance.md).
SMOOTHED_BY_TYPE = {"mpnet": ("attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                              "intermediate.dense")}
PER_TOKEN_BY_TYPE = {"mpnet": ("output.dense",)}
# Bumped per model type when its recipe changes, so only that type's caches are redone.
RECIPE_REVISION = {"mpnet": 3}
SMOOTH_ALPHA = 0.75
CALIBRATION_FILE = Path(__file__).with_name("calibration.txt")


def _calibration_maxima(model, spec: dict, torch) -> dict:
    """The largest |input| per channel of every Linear layer, over the calibration passages."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(spec["transformer"] / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    lines = [line.strip() for line in CALIBRATION_FILE.read_text("utf-8").splitlines()]
    texts = [t.lower() if spec["lowercase"] else t for t in lines if t and not t.startswith("#")]
    maxima: dict = {}
    hooks = []
    for name, module in model.named_modules():
        if type(module) is torch.nn.Linear:
            def record(module, args, name=name):
                seen = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(dim=0)
                maxima[name] = torch.maximum(maxima[name], seen) if name in maxima else seen
            hooks.append(module.register_forward_pre_hook(record))
    with torch.no_grad():
        for text in texts:  # one at a time: no padding in the statistics
            ids = torch.tensor([tokenizer.encode(text).ids])
            model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids))
    for hook in hooks:
        hook.remove()
    return maxima


def _quantize_linears(model, spec: dict, torch) -> None:
    """Replace every nn.Linear with int8 dynamic quantization as ONNX Runtime's quantize_dynamic
    does it (per-channel symmetric int8 weights; activations quantized to uint8 per batch), but
    written by the exporter itself. In the graph each layer is DynamicQuantizeLinear ->
    MatMulInteger -> Cast -> Mul, which ONNX Runtime fuses.

    Layers named in SMOOTHED_SUFFIXES (SMOOTHED_BY_TYPE for MPNet) get SmoothQuant (Xiao et al.,
    2023) first: input channel j is divided by s_j = max|X_j|^a / max|W_j|^(1-a) (a = SMOOTH_ALPHA,
    maxima from a forward pass over calibration.txt) and weight column j multiplied by it, so the
    product is unchanged but the activations quantize with less error. SciFact semantic nDCG@10
    (passages re-encoded): plain int8 0.659, smoothed 0.668, fp32 0.672 (docs/performance.md).

    Layers named in PER_TOKEN_BY_TYPE quantize their activations with one scale per token
    (symmetric: max|x| / 127 over the token's channels) instead of one per batch: Abs ->
    ReduceMax -> Div -> Round -> Clip -> Cast to uint8 around zero point 128 -> MatMulInteger ->
    Cast -> Mul by both scales."""
    maxima = _calibration_maxima(model, spec, torch)
    model_type = getattr(model.config, "model_type", "")
    suffixes = SMOOTHED_BY_TYPE.get(model_type, SMOOTHED_SUFFIXES)
    per_token = PER_TOKEN_BY_TYPE.get(model_type, ())

    class QuantizedMatMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, scale, zero):  # only traced: the same product in float
            return x @ (weight.float() * scale)

        @staticmethod
        def symbolic(g, x, weight, scale, zero):
            xq, x_scale, x_zero = g.op("DynamicQuantizeLinear", x, outputs=3)
            product = g.op("Cast", g.op("MatMulInteger", xq, weight, x_zero, zero), to_i=1)  # 1: float
            return g.op("Mul", product, g.op("Mul", x_scale, scale))

    class PerTokenMatMul(QuantizedMatMul):  # the same traced product; one activation scale a token
        @staticmethod
        def symbolic(g, x, weight, scale, zero):
            def const(value, dtype=torch.float32):
                return g.op("Constant", value_t=torch.tensor(value, dtype=dtype))
            amax = g.op("ReduceMax", g.op("Abs", x), axes_i=[-1], keepdims_i=1)
            x_scale = g.op("Max", g.op("Div", amax, const(127.0)), const(1e-12))
            shifted = g.op("Add", g.op("Round", g.op("Div", x, x_scale)), const(128.0))
            xq = g.op("Cast", g.op("Clip", shifted, const(0.0), const(255.0)), to_i=2)  # 2: uint8
            product = g.op("Cast", g.op("MatMulInteger", xq, weight, const(128, torch.uint8), zero), to_i=1)
            return g.op("Mul", g.op("Mul", product, x_scale), scale)

    class Int8Linear(torch.nn.Module):
        def __init__(self, linear, input_max=None, token=False):
            super().__init__()
            self.token = token
            w = linear.weight.detach().float()  # (out, in)
            self.smooth = input_max is not None
            if self.smooth:
                s = (input_max.clamp(min=1e-5) ** SMOOTH_ALPHA
                     / w.abs().amax(dim=0).clamp(min=1e-5) ** (1 - SMOOTH_ALPHA)).clamp(min=1e-5)
                w = w * s[None, :]
                self.register_buffer("inverse_smoothing", (1.0 / s).float())
            scale = (w.abs().amax(dim=1) / 127).clamp(min=1e-12)
            q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
            self.register_buffer("weight_q", q.t().contiguous())  # (in, out), as MatMul wants
            self.register_buffer("scale", scale)
            self.register_buffer("zero", torch.zeros(w.shape[0], dtype=torch.int8))
            self.bias = linear.bias

        def forward(self, x):
            if self.smooth:
                x = x * self.inverse_smoothing
            y = (PerTokenMatMul if self.token else QuantizedMatMul).apply(x, self.weight_q, self.scale, self.zero)
            return y if self.bias is None else y + self.bias

    modules = dict(model.named_modules())
    for name, module in list(modules.items()):
        if type(module) is torch.nn.Linear:
            parent, _, attribute = name.rpartition(".")
            smoothed = name.endswith(suffixes) and name in maxima
            token = bool(per_token) and name.endswith(per_token)
            setattr(modules[parent], attribute, Int8Linear(module, maxima[name] if smoothed else None, token))


def _temp_beside(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(name, new_file_mode())  # mkstemp makes it private; the cache is readable like any file
    return Path(name)


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
        self.int8 = int8_requested() if int8 is None else int8
        self.path = ensure_export(self.model_dir, name, int8=self.int8)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = _session_options(ort, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        self.session = ort.InferenceSession(str(self.path), options, providers=providers(ort))
        self.inputs = [i.name for i in self.session.get_inputs()]
        tokenizer = Tokenizer.from_file(str(self.spec["transformer"] / "tokenizer.json"))
        padding = tokenizer.padding
        self.pad_id = int(padding["pad_id"]) if padding else _pad_id(tokenizer, self.spec["transformer"])
        tokenizer.no_padding()  # padded per batch below, to that batch's longest text
        tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer = tokenizer

    def encode(self, texts: list[str]):
        return self.encode_spans(texts, None)[0]

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]] | None):
        """Unit vectors of `texts` and, when `spans` is given, of character spans of each text:
        the mean of the token embeddings inside each span (the passage read as a whole gives
        each sentence its context: "late chunking"), L2-normalised. Returns (matrix, [one
        (len(spans[i]), dim) matrix per text] or None). A span with no token inside (cut by
        truncation) gets its text's vector."""
        import numpy as np

        if self.spec["lowercase"]:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        out = None
        span_vectors: list | None = [None] * len(texts) if spans is not None else None
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
            if span_vectors is not None:
                for i, row in enumerate(rows):
                    span_vectors[row] = _pool_spans(hidden[i, :lengths[row]], encodings[row].offsets,
                                                    spans[row], pooled[i])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32), span_vectors


def _pool_spans(hidden, offsets, spans: list[tuple[int, int]], fallback):
    """Mean of the token rows of `hidden` whose character offsets lie inside each span, unit
    length; special tokens have empty offsets and belong to no span."""
    import numpy as np

    if not spans:
        return np.zeros((0, hidden.shape[1]), dtype=np.float32)
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts
    bounds = np.asarray(spans, dtype=np.int64)
    inside = (real[None, :] & (starts[None, :] >= bounds[:, :1]) & (ends[None, :] <= bounds[:, 1:]))
    counts = inside.sum(axis=1, keepdims=True)
    sums = inside.astype(np.float32) @ hidden
    vectors = np.where(counts > 0, sums / np.maximum(counts, 1), fallback[None, :])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


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
    args = sys.argv[1:]
    if len(args) not in (3, 4) or args[0] != "export" or args[3:] not in ([], ["--int8"]):
        sys.exit("usage: onnx_backend.py export MODEL_DIR OUT.onnx [--int8]")
    _export(Path(args[1]), Path(args[2]), int8=args[3:] == ["--int8"])
