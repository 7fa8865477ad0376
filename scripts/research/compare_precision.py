"""Compare int8 and fp32 vectors on SciFact: passages x queries, each in fp32 or int8.

    BYLINE_ONNX_INT8=0 .venv/bin/python scripts/evaluate.py scifact   # builds ...-fp32 once
    .venv/bin/python scripts/evaluate.py scifact                      # builds ...-int8 once
    .venv/bin/python scripts/compare_precision.py

Reads the passage vectors stored by the two evaluation indexes (no re-encoding), encodes the
queries with both ONNX models, and scores each combination the plain way (cosine, best passage
per article, raw query text) with nDCG@10 on the test and train queries. Beside each figure: the
mean per-query difference to fp32/fp32 and its standard error, to tell a change from noise.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import ir_measures
import numpy as np
from ir_measures import nDCG

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluate import DEFAULT_CACHE, load_set  # noqa: E402  (scripts/evaluate.py)
from index.embedder import resolve_model  # noqa: E402
from index.onnx_backend import OnnxEncoder  # noqa: E402

SPLITS = {"test": "test", "train": "tune"}  # SciFact's tuning split is its train queries


def stored_vectors(index: Path) -> tuple[list[str], np.ndarray]:
    """The article id and vector of every live passage, in passage-id order."""
    db = index / "articles.sqlite"
    if not db.is_file():
        sys.exit(f"compare_precision: no evaluation index at {index}; build it with scripts/evaluate.py "
                 "scifact (see this script's docstring)")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT c.article_id, c.vector FROM chunks c JOIN articles a ON a.id = c.article_id "
                       "AND a.gen_removed IS NULL WHERE c.gen_removed IS NULL ORDER BY c.id").fetchall()
    return [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])


def per_query(owner: list[str], passages: np.ndarray, queries: np.ndarray, qids: list[str], qrels) -> dict:
    run = {}
    for qid, row in zip(qids, queries @ passages.T):
        best: dict[str, float] = {}
        for i in np.argsort(-row)[:300]:
            best.setdefault(owner[i], float(row[i]))
        run[qid] = dict(list(best.items())[:100])
    return {m.query_id: m.value for m in ir_measures.iter_calc([nDCG @ 10], qrels, run)}


def main() -> None:
    info = resolve_model()
    passages = {p: stored_vectors(DEFAULT_CACHE / f"scifact-200-1-{p}") for p in ("fp32", "int8")}
    if passages["fp32"][0] != passages["int8"][0]:
        sys.exit("compare_precision: the two indexes hold different passages")
    encoders = {p: OnnxEncoder(info.path, info.name, info.max_seq_length, int8=p == "int8") for p in ("fp32", "int8")}
    sets = {name: (t.qrels, t.queries) for name, split in SPLITS.items()
            for t in [load_set("scifact", split, None)]}
    scores = {}
    for p_side, (owner, matrix) in passages.items():
        for q_side, encoder in encoders.items():
            for name, (qrels, queries) in sets.items():
                vectors = encoder.encode(list(queries.values()))
                scores[p_side, q_side, name] = per_query(owner, matrix, vectors, list(queries), qrels)
    print("passages / queries | " + " | ".join(f"SciFact {n} ({len(sets[n][1])} queries)" for n in sets))
    for p_side, q_side in (("fp32", "fp32"), ("fp32", "int8"), ("int8", "fp32"), ("int8", "int8")):
        cells = []
        for name, (qrels, _) in sets.items():
            base, this = scores["fp32", "fp32", name], scores[p_side, q_side, name]
            diff = np.array([this.get(q, 0.0) - base.get(q, 0.0) for q in qrels])
            mean = np.mean([this.get(q, 0.0) for q in qrels])
            cells.append(f"{mean:.4f}" if (p_side, q_side) == ("fp32", "fp32") else
                         f"{mean:.4f} ({diff.mean():+.4f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.4f})")
        print(f"{p_side} / {q_side} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
