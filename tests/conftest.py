"""Shared fixtures: the real model, and a real index of the bundled samples built once per run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from index.builder import add_paths
from index.embedder import Embedder, resolve_model
from index.layout import IndexPaths

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SEED = ROOT.parent / "shared" / "data" / "seed"
NK_SAMPLE = "2022-01-14-north-korea-talks.txt"
NK_SEED = "north-korea-missile-tests.txt"
NK = {NK_SAMPLE, NK_SEED}

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Every test uses MiniLM unless it says otherwise (fast), whatever the default of new indexes is.
os.environ.setdefault("BYLINE_MODEL", "minilm")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(resolve_model())


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    if not (SEED / NK_SEED).is_file():
        pytest.skip("../shared/data/seed is not present")
    return SEED


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Path:
    """An index of samples/ (and the reference article when ../shared is present)."""
    root = tmp_path_factory.mktemp("index") / "ix"
    sources = [SAMPLES] + ([SEED] if (SEED / NK_SEED).is_file() else [])
    add_paths(IndexPaths(root), sources, embedder)
    return root


@pytest.fixture
def index_copy(sample_index, tmp_path) -> Path:
    """A private copy of the sample index, for tests that change it."""
    target = tmp_path / "ix"
    shutil.copytree(sample_index, target)
    return target


@pytest.fixture(scope="session")
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args):
    """`byline ARGS...` in this process (exceptions propagate, so a traceback fails the test)."""
    from search.frontends.cli import app

    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def without_sentence_vectors(index: Path, copy: Path) -> Path:
    """A copy of `index` as indexes made before sentence vectors were stored look (no table)."""
    import sqlite3

    shutil.copytree(index, copy)
    db = sqlite3.connect(IndexPaths(copy).store)
    db.execute("DROP TABLE sentences")
    db.commit()
    db.close()
    return copy
