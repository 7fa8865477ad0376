"""The collection profile (index/profile.py) and the lead weight that follows it."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from index.builder import add_paths
from index.layout import IndexPaths
from index.manifest import load_manifest
from index import profile
from search.ranking.ranker import Ranker, SearchOptions
from search.retrieval.opened import OpenIndex

from conftest import SAMPLES

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def small_index(tmp_path: Path, embedder, corpus: str, count: int) -> Path:
    """An index of the first `count` articles of a shared BEIR-layout corpus, as .txt files."""
    source = DATA / corpus / "corpus.jsonl"
    if not source.is_file():
        pytest.skip(f"{source} is not present")
    folder = tmp_path / corpus
    folder.mkdir()
    with source.open(encoding="utf-8") as lines:
        for n, line in zip(range(count), lines):
            doc = json.loads(line)
            (folder / f"{n:03d}.txt").write_text(f"{doc.get('title') or doc['_id']}\n\n{doc['text']}\n", encoding="utf-8")
    root = tmp_path / f"ix-{corpus}"
    add_paths(IndexPaths(root), [folder], embedder)
    return root


def test_news_leads_summarise_and_science_abstract_leads_do_not(tmp_path, embedder):
    news = load_manifest(IndexPaths(small_index(tmp_path, embedder, "bbc_news", 30))).lead_centrality
    science = load_manifest(IndexPaths(small_index(tmp_path, embedder, "scifact", 30))).lead_centrality
    assert news is not None and science is not None
    assert news > 0.01 > 0 > science


def test_too_few_articles_have_no_profile():
    rng = random.Random(3)
    import numpy as np

    unit = lambda n: (lambda m: m / np.linalg.norm(m, axis=1, keepdims=True))(
        np.array([[rng.gauss(0, 1) for _ in range(8)] for _ in range(n)], dtype=np.float32))
    assert profile.lead_centrality([unit(5) for _ in range(profile.MIN_ARTICLES - 1)]) is None
    assert profile.lead_centrality([unit(2) for _ in range(50)]) is None  # under 3 sentences each
    assert profile.lead_centrality([unit(5) for _ in range(profile.MIN_ARTICLES)]) is not None


def test_an_index_written_before_the_profile_is_measured_when_opened(index_copy):
    paths = IndexPaths(index_copy)
    recorded = load_manifest(paths).lead_centrality
    data = json.loads(paths.manifest.read_text())
    del data["lead_centrality"]
    paths.manifest.write_text(json.dumps(data))
    ix = OpenIndex(index_copy)
    try:
        assert ix.manifest.lead_centrality is None
        assert ix.lead_centrality == recorded == profile.measure(ix.store)
    finally:
        ix.close()


QUERIES = ["who proposed talks without preconditions", "film festival opening night",
           "offer to negotiate with Pyongyang unconditionally", "price of a train ticket",
           "storm damage along the coast", "new rules for parking in the city centre"]


def rankings(root: Path, centrality: float | None, options: SearchOptions) -> list[list[str]]:
    paths = IndexPaths(root)
    data = json.loads(paths.manifest.read_text())
    data["lead_centrality"] = centrality
    paths.manifest.write_text(json.dumps(data))
    ix = OpenIndex(root)
    try:
        ranker = Ranker(ix, options)
        return [[r.article.id for r in ranker.search(q)] for q in QUERIES]
    finally:
        ix.close()


def test_the_lead_counts_only_where_leads_summarise(index_copy):
    hybrid = SearchOptions(k=len(list(SAMPLES.iterdir())))
    full_lead = rankings(index_copy, None, replace(hybrid, lead_ramp=0.0))
    no_lead = rankings(index_copy, None, replace(hybrid, lead_weight=0.0))
    assert full_lead != no_lead  # the lead moves some of these rankings
    assert rankings(index_copy, 0.05, hybrid) == full_lead  # news-like: the whole lead weight
    assert rankings(index_copy, -0.02, hybrid) == no_lead  # abstract-like: none
