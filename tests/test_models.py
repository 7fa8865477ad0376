"""Named models and the model an index records: the mpnet join and its checks on the real parts,
an index built with --model mpnet (or a folder) searched without being told, older indexes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from index import model_install
from index.layout import IndexPaths
from index.models import MODELS, resolve_model

from conftest import NK, NK_SEED, SAMPLES, run

QUESTION = "who proposed talks without preconditions"


def _parts() -> list[Path]:
    try:
        return model_install.installed_parts()
    except model_install.InstallProblem as exc:
        pytest.skip(str(exc))


def _linked_parts(folder: Path, copy: tuple[int, ...] = ()) -> list[Path]:
    """The installed parts as symlinks in `folder`, except those numbered in `copy` (real copies,
    to damage without touching the installed ones)."""
    folder.mkdir()
    out = []
    for n, part in enumerate(_parts(), 1):
        target = folder / part.name
        shutil.copyfile(part, target) if n in copy else target.symlink_to(part)
        out.append(target)
    return out


def _leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if not p.name.endswith(".lock"))


def test_join_verifies_every_file_strips_strays_and_replaces_a_killed_join(tmp_path):
    target = tmp_path / "models" / model_install.FOLDER
    target.parent.mkdir()
    killed = target.parent / f".{target.name}.tmp-killed"  # what a join killed midway leaves
    killed.mkdir()
    (killed / "model.safetensors").write_bytes(b"\0" * 1000)
    assert model_install.join(_parts(), target) == target
    assert _leftovers(target) == [target.name]
    files = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    assert files == set(model_install.PINNED_FILES) | {model_install.MARKER}  # no desktop.ini
    assert model_install.is_complete(target)
    info = resolve_model(target)
    assert (info.dimension, info.max_seq_length) == (768, 384)
    assert info.identity()["sha256"] == MODELS["mpnet"].weights_sha256  # computed, as for any folder


def test_a_damaged_part_is_refused_and_nothing_is_written(tmp_path):
    parts = _linked_parts(tmp_path / "parts", copy=(5,))
    with open(parts[4], "r+b") as fh:  # one flipped byte in the middle of the last part
        fh.seek(10_000_000)
        byte = fh.read(1)
        fh.seek(10_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    target = tmp_path / "models" / model_install.FOLDER
    with pytest.raises(model_install.InstallProblem, match=r"part 5 of the model mpnet .* SHA-256 .* damaged"):
        model_install.join(parts, target)
    assert not target.exists() and _leftovers(target) == []

    with open(parts[4], "r+b") as fh:  # and a truncated one: refused by its size
        fh.truncate(1_000_000)
    with pytest.raises(model_install.InstallProblem, match=r"part 5 .* has 1000000 bytes, not 26933972"):
        model_install.join(parts, target)
    assert not target.exists() and _leftovers(target) == []


def test_a_missing_part_is_refused_and_nothing_is_written(tmp_path):
    parts = _linked_parts(tmp_path / "parts")
    parts[2].unlink()
    target = tmp_path / "models" / model_install.FOLDER
    with pytest.raises(model_install.InstallProblem, match=r"part 3 of the model mpnet is missing"):
        model_install.join(parts, target)
    with pytest.raises(model_install.InstallProblem, match=r"needs 5 parts, got 4"):
        model_install.join(parts[:2] + parts[3:], target)
    assert not target.exists() and _leftovers(target) == []


# --- an index built with mpnet -------------------------------------------------------------------

@pytest.fixture(scope="module")
def mpnet_index(tmp_path_factory, seed_dir):
    from typer.testing import CliRunner

    _parts()
    root = tmp_path_factory.mktemp("mpnet") / "ix"
    result = run(CliRunner(), "index", "add", SAMPLES, seed_dir, "--model", "mpnet", "--index", root, "--json")
    assert result.exit_code == 0, result.stderr
    return root


def _ids(runner, root, *args):
    result = run(runner, "search", *args, "--index", root, "-o", "ids", "-k", "5")
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "lexical"])
def test_mpnet_index_answers_the_mission_question_without_model_flag(runner, mpnet_index, mode):
    found = _ids(runner, mpnet_index, QUESTION, "--mode", mode)
    assert found[0] in NK and NK_SEED in found


def test_mpnet_index_records_its_model(runner, mpnet_index):
    manifest = json.loads(IndexPaths(mpnet_index).manifest.read_text())
    assert (manifest["model_name"], manifest["dimension"], manifest["model_source"]) == (
        "sentence-transformers/all-mpnet-base-v2", 768, "mpnet")
    assert manifest["model_weights"]["sha256"] == MODELS["mpnet"].weights_sha256
    status = json.loads(run(runner, "status", "--index", mpnet_index, "--json").stdout)
    assert (status["model"], status["model_source"]) == ("sentence-transformers/all-mpnet-base-v2", "mpnet")
    # the routine re-add needs no --model either, and $BYLINE_MODEL (minilm in the tests) is
    # only for new indexes
    assert os.environ.get("BYLINE_MODEL") == "minilm"
    again = run(runner, "index", "add", SAMPLES, "--index", mpnet_index, "--json")
    assert again.exit_code == 0, again.stderr
    # an explicit other model is refused, naming the index's own
    other = run(runner, "search", QUESTION, "--index", mpnet_index, "--model", "minilm", "-m", "semantic")
    assert other.exit_code == 2
    assert "built with model 'sentence-transformers/all-mpnet-base-v2'" in other.stderr
    assert "leave out --model" in other.stderr
    same = run(runner, "search", QUESTION, "--index", mpnet_index, "--model", "mpnet", "-o", "ids", "-m", "semantic")
    assert same.exit_code == 0 and same.stdout.split()[0] in NK


def test_saved_searches_and_similar_use_the_recorded_model(runner, tmp_path, mpnet_index):
    root = tmp_path / "ix"
    shutil.copytree(mpnet_index, root)
    added = run(runner, "saved", "add", "--index", root, "-m", "semantic", "--", "nk", QUESTION)
    assert added.exit_code == 0, added.stderr
    ran = run(runner, "saved", "run", "nk", "--index", root, "--format", "json")
    assert ran.exit_code == 0, ran.stderr
    assert json.loads(ran.stdout)["results"][0]["id"] in NK
    like = run(runner, "similar", NK_SEED, "--index", root, "-o", "ids")
    assert like.exit_code == 0, like.stderr


def test_mpnet_int8_passages_stay_close_to_full_precision(mpnet_index):
    """int8 passages (the default) against the fp32 model. With only BERT's layer names
    smoothed, MPNet's FFN output layer went unsmoothed: cosine ~0.90; with one activation scale
    per batch there, smoothed, ~0.983; with one per token (the recipe) ~0.998. mpnet's queries go
    through the int8 model too (measured to cost nothing; index/models.py), MiniLM's do not."""
    from index.embedder import Embedder

    embedder = Embedder(resolve_model("mpnet"))
    texts = [p.read_text()[:1000] for p in sorted(SAMPLES.glob("*.txt"))[:8]]
    assert embedder.int8_passages and embedder.backend == "onnx"
    assert embedder.int8_queries and embedder._query_onnx is embedder._onnx
    assert not Embedder(resolve_model("minilm")).int8_queries
    full = embedder._load_onnx(False)
    assert full.path.name == "model.onnx" and embedder._onnx.path.name == "model.int8.onnx"
    cosines = (embedder.encode(texts) * full.encode(texts)).sum(axis=1)
    assert cosines.mean() > 0.995 and cosines.min() > 0.99, cosines
    questions = ["who proposed talks without preconditions", "rail strike", "sea turtle nesting record"]
    cosines = (embedder.encode_queries(questions) * full.encode(questions)).sum(axis=1)
    assert cosines.min() > 0.99, cosines


def test_mpnet_queries_searched_together_get_the_results_they_get_alone(mpnet_index):
    """mpnet's int8 model quantizes a batch's activations with one scale, so queries encoded
    together (a server's batch, `--queries`) got vectors a little off their own (cosine ~0.998)
    and could rank differently from the same search made alone. Each is encoded by itself."""
    import numpy as np

    from search.engine import Engine, SearchRequest

    questions = [QUESTION, "rail strike", "sea turtle nesting record", "who leads the opposition party"]
    engine = Engine(mpnet_index)
    try:
        embedder = engine.index.embedder
        together = embedder.encode_queries(questions)
        alone = np.vstack([embedder.encode_queries([q]) for q in questions])
        assert np.array_equal(together, alone)
        request = SearchRequest(query="", k=5, mode="semantic")
        many = [r.to_dict() for r in engine.search_many(questions, request)]
        assert many == [engine.search(SearchRequest(query=q, k=5, mode="semantic")).to_dict() for q in questions]
        assert many[0]["results"][0]["id"] in NK
    finally:
        engine.close()


def test_engine_of_serve_and_mcp_uses_the_recorded_model(mpnet_index):
    from search.engine import Engine

    engine = Engine(mpnet_index)
    try:
        assert engine.index.embedder.info.source == "mpnet"
        assert engine.index.embedder.info.dimension == 768
    finally:
        engine.close()


# --- a model folder ------------------------------------------------------------------------------

def _folder_model(target: Path) -> Path:
    """A model folder of links to the bundled MiniLM's files (a model byline knows only by path)."""
    target.mkdir()
    for item in resolve_model("minilm").path.iterdir():
        (target / item.name).symlink_to(item)
    return target


def test_folder_model_is_recorded_then_missing_moved_or_changed(runner, tmp_path, monkeypatch):
    folder = _folder_model(tmp_path / "my-model")
    root = tmp_path / "ix"
    monkeypatch.setenv("BYLINE_BACKEND", "torch")  # a new folder would be exported to ONNX (minutes)
    monkeypatch.setenv("BYLINE_MODEL", str(folder))  # $BYLINE_MODEL picks the model of a new index
    assert run(runner, "index", "add", SAMPLES, "--index", root).exit_code == 0
    monkeypatch.setenv("BYLINE_MODEL", "minilm")
    manifest = json.loads(IndexPaths(root).manifest.read_text())
    assert (manifest["model_name"], manifest["model_source"]) == ("my-model", str(folder))
    assert manifest["model_weights"]["sha256"] == MODELS["minilm"].weights_sha256
    assert _ids(runner, root, QUESTION, "-m", "semantic")[0] in NK  # without --model

    moved = tmp_path / "moved" / "my-model"
    moved.parent.mkdir()
    folder.rename(moved)
    gone = run(runner, "search", QUESTION, "--index", root, "-m", "semantic")
    assert gone.exit_code == 2 and f"model folder {folder}, which is missing" in gone.stderr
    assert "Traceback" not in gone.stderr
    assert _ids(runner, root, QUESTION, "-m", "semantic", "--model", moved)[0] in NK  # told its new place

    moved.rename(folder)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other weights
    weights.unlink()
    weights.write_bytes(bytes(data))
    changed = run(runner, "search", QUESTION, "--index", root, "-m", "semantic")
    assert changed.exit_code == 2 and f"model folder {folder} has changed" in changed.stderr
    lexical = run(runner, "search", "turtles", "--index", root, "-m", "lexical", "-o", "ids")
    assert lexical.exit_code == 0  # lexical search needs no model


def test_index_from_before_the_model_fields_keeps_working(runner, index_copy, monkeypatch):
    paths = IndexPaths(index_copy)
    manifest = json.loads(paths.manifest.read_text())
    for key in ("model_source", "model_weights"):
        manifest.pop(key, None)
    paths.manifest.write_text(json.dumps(manifest))
    monkeypatch.setenv("BYLINE_MODEL", "mpnet")  # a new default for new indexes changes nothing here
    assert _ids(runner, index_copy, QUESTION, "-m", "semantic")[0] in NK
    added = run(runner, "index", "add", SAMPLES, "--index", index_copy)
    assert added.exit_code == 0, added.stderr
    manifest = json.loads(paths.manifest.read_text())
    assert manifest["model_source"] == "minilm"  # recorded at the next write
    assert manifest["model_weights"]["sha256"] == MODELS["minilm"].weights_sha256


def test_unknown_model_is_a_clear_usage_error(runner, tmp_path):
    result = run(runner, "index", "add", SAMPLES, "--index", tmp_path / "ix", "--model", "mpnet2")
    assert result.exit_code == 2 and "model folder not found" in result.stderr and "minilm, mpnet" in result.stderr
    assert not (tmp_path / "ix").exists()


def test_a_lost_manifest_is_recreated_with_its_model(runner, index_copy):
    paths = IndexPaths(index_copy)
    recorded = json.loads(paths.manifest.read_text())
    paths.manifest.unlink()
    result = run(runner, "doctor", "--repair", "--index", index_copy)
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(paths.manifest.read_text())
    assert (manifest["model_source"], manifest["model_weights"]) == ("minilm", recorded["model_weights"])
