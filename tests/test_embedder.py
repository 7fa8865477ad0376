"""The two embedding backends, with the real model: ONNX Runtime (default) and sentence-transformers.

The ONNX tests export into a fresh cache folder of their own, as on a new machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index import onnx_backend
from index.embedder import Embedder, resolve_model

ROOT = Path(__file__).resolve().parent.parent

SAMPLES = [
    "who proposed talks",
    "",
    "North Korea",
    "Seoul said on Friday that it was ready to resume talks with Pyongyang without preconditions, "
    "a week after the North fired two missiles into the sea off its east coast.",
    "Économie : la Banque centrale européenne relève ses taux — 0,25 point; 東京 株式市場 ☕ 🚀",
    "The committee's 2024 report (pp. 12-19) found that U.S. exports rose 3.5% year-on-year.",
    # longer than the model's 256-token window: truncated the same way by both backends
    " ".join(["Officials met in Geneva to discuss sanctions relief, inspections and a timetable."] * 40),
]


@contextlib.contextmanager
def _env(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def info():
    return resolve_model()


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("byline-cache")


@pytest.fixture(scope="module")
def onnx_run(info, fresh_cache):
    """An ONNX embedder whose first encode exports the model into an empty cache."""
    err = io.StringIO()
    with _env(BYLINE_CACHE=str(fresh_cache), BYLINE_ONNX_INT8="0"), contextlib.redirect_stderr(err):
        embedder = Embedder(info, backend="onnx")
        first = embedder.encode(["warm up"])
    return embedder, first, err.getvalue()


@pytest.fixture(scope="module")
def onnx_embedder(onnx_run) -> Embedder:
    return onnx_run[0]


@pytest.fixture(scope="module")
def torch_embedder(info) -> Embedder:
    return Embedder(info, backend="torch")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_export_into_empty_cache(onnx_run, fresh_cache):
    embedder, first, stderr = onnx_run
    assert embedder.backend == "onnx"
    assert stderr.strip() == "preparing the ONNX model (once)"
    exported = list(fresh_cache.glob("onnx/all-MiniLM-L6-v2-*/model.onnx"))
    assert len(exported) == 1 and exported[0].stat().st_size > 1_000_000
    ready = embedder._onnx.path  # the optimized copy that is loaded, its weights beside it
    assert ready.parent.parent == exported[0].parent and ready.parent.name.startswith("ort-")
    assert ready.with_suffix(".data").stat().st_size > 1_000_000
    # written under temporary names, then renamed
    assert not [p for p in fresh_cache.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".tmp")]
    assert first.shape == (1, 384) and first.dtype == np.float32


def test_onnx_and_torch_vectors_agree(onnx_embedder, torch_embedder):
    a, b = onnx_embedder.encode(SAMPLES), torch_embedder.encode(SAMPLES)
    assert a.shape == b.shape == (len(SAMPLES), 384)
    assert a.dtype == b.dtype == np.float32
    assert _cosines(a, b).min() > 0.999


def test_unit_length_and_original_order(onnx_embedder):
    # lengths from 1 to ~300 tokens, shuffled, more than one batch
    rng = np.random.default_rng(7)
    words = "the minister said talks would resume next week in the capital after the vote".split()
    texts = [" ".join(rng.choice(words, size=n)) for n in rng.permutation([1, 2, 3, 5, 8, 300, 13, 21] * 9)]
    texts += SAMPLES
    together = onnx_embedder.encode(texts)
    assert together.shape == (len(texts), 384) and together.dtype == np.float32
    assert together.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.vstack([onnx_embedder.encode([t]) for t in texts])
    assert _cosines(together, alone).min() > 0.99999  # padding in a batch changes nothing


def test_empty_input(onnx_embedder):
    out = onnx_embedder.encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_count_tokens_unchanged(onnx_embedder, torch_embedder):
    tokenizer = torch_embedder.model.tokenizer
    for text in SAMPLES + ["who proposed talks without preconditions"]:
        expected = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        assert onnx_embedder.count_tokens(text) == expected
        assert torch_embedder.count_tokens(text) == expected
    assert onnx_embedder.count_tokens("who proposed talks") == 3


def test_export_is_reused(info, fresh_cache, onnx_embedder):
    ready = onnx_embedder._onnx.path
    files = [ready, ready.with_suffix(".data"), ready.parent.parent / "model.onnx"]
    before = [f.stat().st_mtime_ns for f in files]
    err = io.StringIO()
    with _env(BYLINE_CACHE=str(fresh_cache), BYLINE_ONNX_INT8="0"), contextlib.redirect_stderr(err):
        again = Embedder(info, backend="onnx")
        vectors = again.encode(["who proposed talks"])
    assert again._onnx.path == ready
    assert [f.stat().st_mtime_ns for f in files] == before
    assert err.getvalue() == ""
    np.testing.assert_allclose(vectors, onnx_embedder.encode(["who proposed talks"]), atol=1e-6)


def test_encoding_process_imports_no_torch(fresh_cache, onnx_embedder):
    """With the export cached, encoding needs only onnxruntime, tokenizers and numpy; importing
    index.embedder needs none of them."""
    code = (
        "import sys\n"
        "from index.embedder import Embedder, resolve_model\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'onnxruntime', 'numpy')\n"
        "assert not [m for m in heavy if m in sys.modules], sys.modules.keys()\n"
        "e = Embedder(resolve_model())\n"
        "v = e.encode(['who proposed talks'])\n"
        "assert e.backend == 'onnx' and v.shape == (1, 384)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "BYLINE_CACHE": str(fresh_cache), "BYLINE_ONNX_INT8": "0"}
    env.pop("BYLINE_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "preparing" not in done.stderr


def test_two_processes_export_once(info, tmp_path):
    """Started together on an empty cache, one process exports and the other waits for it."""
    code = ("from index.embedder import Embedder, resolve_model\n"
            "import sys\n"
            "sys.stdout.write(Embedder(resolve_model(), backend='onnx').encode(['talks']).tobytes().hex())\n")
    env = {**os.environ, "BYLINE_CACHE": str(tmp_path / "cache"), "BYLINE_ONNX_INT8": "0"}
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    assert results[0][0] == results[1][0]
    assert sum(err.count("preparing the ONNX model (once)") for _, err in results) == 1
    assert [p.name for p in (tmp_path / "cache").glob("onnx/*/*.onnx")] == ["model.onnx"]


def test_passages_int8_queries_fp32_by_default(info, fresh_cache, torch_embedder):
    """Without $BYLINE_ONNX_INT8, passages go through the int8 model (SmoothQuant calibrated on
    index/calibration.txt, quantized by the exporter) and queries through fp32; a process that
    only asks for query vectors never loads the int8 model."""
    err = io.StringIO()
    with _env(BYLINE_CACHE=str(fresh_cache), BYLINE_ONNX_INT8=None), contextlib.redirect_stderr(err):
        searcher = Embedder(info, backend="onnx")
        queries = searcher.encode_queries(SAMPLES)
        assert searcher.query_backend == "onnx" and "_onnx" not in vars(searcher)
        indexer = Embedder(info, backend="onnx")
        passages = indexer.encode(SAMPLES)
    assert err.getvalue().strip() == "preparing the int8 ONNX model for passages (once)"
    assert searcher._query_onnx.path.name == "model.onnx"
    assert indexer._onnx.path.name == "model.int8.onnx" and "_query_onnx" not in vars(indexer)
    reference = torch_embedder.encode(SAMPLES)
    assert _cosines(queries, reference).min() > 0.999
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    cosines = _cosines(passages, reference)
    assert 0.99 < cosines.mean() < 0.9995  # really the int8 model, and close to fp32
    # every real text > 0.98 (SciFact passages: mean 0.996, min 0.992); the empty text ~0.97
    assert all(c > 0.98 for text, c in zip(SAMPLES, cosines) if text)


def test_int8_off_uses_one_fp32_model(info, fresh_cache, onnx_embedder):
    with _env(BYLINE_CACHE=str(fresh_cache), BYLINE_ONNX_INT8="0"):
        embedder = Embedder(info, backend="onnx")
        passages, queries = embedder.encode(SAMPLES), embedder.encode_queries(SAMPLES)
    assert embedder._onnx is embedder._query_onnx and embedder._onnx.path.name == "model.onnx"
    np.testing.assert_array_equal(passages, queries)
    np.testing.assert_allclose(passages, onnx_embedder.encode(SAMPLES), atol=1e-6)


def test_backend_env_torch(info, monkeypatch, torch_embedder):
    monkeypatch.setenv("BYLINE_BACKEND", "torch")
    embedder = Embedder(info)
    assert embedder.backend == "torch"
    vectors = embedder.encode(SAMPLES[:4])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, torch_embedder.encode(SAMPLES[:4]), atol=1e-5)


def test_backend_env_rejects_unknown(info, monkeypatch):
    monkeypatch.setenv("BYLINE_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="BYLINE_BACKEND"):
        Embedder(info)


def _model_copy(info, target: Path, modules: list[dict] | None = None, pooling: dict | None = None) -> Path:
    """A model folder of links to the bundled model's files, with its own modules and pooling."""
    target.mkdir()
    for item in info.path.iterdir():
        if item.is_file():
            (target / item.name).symlink_to(item)
    pool = target / "1_Pooling"
    pool.mkdir()
    config = json.loads((info.path / "1_Pooling" / "config.json").read_text())
    (pool / "config.json").write_text(json.dumps({**config, **(pooling or {})}))
    if modules is not None:
        (target / "modules.json").unlink()
        (target / "modules.json").write_text(json.dumps(modules))
    return target


def test_unsupported_pipelines_use_torch(info, tmp_path):
    base = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    dense = _model_copy(info, tmp_path / "dense", modules=base + [
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}])
    max_pool = _model_copy(info, tmp_path / "max", pooling={"pooling_mode_mean_tokens": False,
                                                            "pooling_mode_max_tokens": True})
    for folder in (dense, max_pool):
        with pytest.raises(onnx_backend.UnsupportedModel):
            onnx_backend.pipeline(folder)
        assert Embedder(resolve_model(folder)).backend == "torch"  # without exporting anything
    assert onnx_backend.pipeline(info.path)["pooling"] == "mean"


def test_cls_pooling_matches_sentence_transformers(info, tmp_path, monkeypatch):
    folder = _model_copy(info, tmp_path / "cls", pooling={"pooling_mode_mean_tokens": False,
                                                          "pooling_mode_cls_token": True})
    monkeypatch.setenv("BYLINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BYLINE_ONNX_INT8", "0")
    cls_info = resolve_model(folder)
    onnx = Embedder(cls_info, backend="onnx")
    reference = Embedder(cls_info, backend="torch")
    a, b = onnx.encode(SAMPLES), reference.encode(SAMPLES)
    assert onnx.backend == "onnx"
    assert _cosines(a, b).min() > 0.999
    assert _cosines(a, Embedder(info, backend="torch").encode(SAMPLES)).min() < 0.99  # really CLS


def test_cache_folder_follows_model_and_env(info, tmp_path, monkeypatch):
    monkeypatch.setenv("BYLINE_CACHE", str(tmp_path / "a"))
    first = onnx_backend.export_dir(info.path, info.name)
    assert first.parent == tmp_path / "a" / "onnx" and first.name.startswith("all-MiniLM-L6-v2-")
    monkeypatch.delenv("BYLINE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_backend.export_dir(info.path, info.name).parent == tmp_path / "xdg" / "byline" / "onnx"
    other = _model_copy(info, tmp_path / "moved")
    assert onnx_backend.export_dir(other, info.name).name != onnx_backend.export_dir(info.path, info.name).name
