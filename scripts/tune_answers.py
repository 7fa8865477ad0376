"""Tune and compare answer selection on the questions whose answering article is known.

For every (question, answering article) of bbc_qa_dev and bbc_qa_dev2 (answers.jsonl), each
sentence of the article is scored as search/answering/answers.py scores it, and the chosen answer is
checked as ../shared/tools/answer_eval.py checks it (>= 60% of a judged sentence's words, not
much longer). This is answer accuracy given the right article (the ceiling of Answer@1 is P@1
times it); it isolates answer choice from retrieval. Prints the accuracy per set and kind for:
the lead sentence, each signal alone, and the weight grid's best point (chosen on the mean of the
two sets), for the sentence vectors of the index given (late-chunked at ingest: "span") and, with
--own, for sentences encoded on their own at query time.

    PYTHONPATH=. .venv/bin/python scripts/tune_answers.py ~/.cache/byline-eval/bbc_news-200-1-int8-sent --own
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import DATA, answer_matches, read_jsonl  # noqa: E402
from search.answering import features  # noqa: E402
from search.answering.answers import Answerer, AnswerWeights  # noqa: E402
from search.retrieval.opened import OpenIndex  # noqa: E402

SETS = ("bbc_qa_dev", "bbc_qa_dev2")


def load(name: str) -> list[dict]:
    kinds = {q["_id"]: q.get("kind", "all") for q in read_jsonl(DATA / name / "queries.jsonl")}
    rows = list(read_jsonl(DATA / name / "answers.jsonl"))
    for row in rows:
        row["kind"] = kinds.get(row["_id"], "all")
        row["set"] = name
    return rows


def scored_rows(answerer: Answerer, rows: list[dict]) -> list:
    vectors = answerer.index.embedder.encode_queries([r["question"] for r in rows])
    out = []
    for row, vector in zip(rows, vectors):
        scored = answerer.score(row["question"], vector, [row["doc_id"]])[row["doc_id"]]
        out.append((row, scored))
    return out


def accuracy(answerer: Answerer, scored: list, weights: AnswerWeights, raw: dict | None = None) -> dict:
    """Share of rows answered right, per set and set/kind."""
    answerer.weights = weights
    hits: dict[str, list[int]] = {}
    for (row, s), matrix in zip(scored, raw or [None] * len(scored)):
        if matrix is not None:  # re-centre the cosines for this grid point
            s.cosine = features.cosines(matrix[0], matrix[1], weights.centre)
        answer = answerer.choose(row["question"], s)
        ok = answer is not None and any(answer_matches(answer.text, g) for g in row["answers"])
        for group in (row["set"], f"{row['set']}/{row['kind']}"):
            hits.setdefault(group, []).append(int(ok))
    return {g: sum(v) / len(v) for g, v in sorted(hits.items())}


def threshold_table(index: OpenIndex, rows: list[dict]) -> list[dict]:
    """The default weights' evidence for the answer of answering articles (kept when right) and
    of the non-answering articles among each question's top 3 hybrid results (should be None)."""
    from search.ranking.ranker import Ranker, SearchOptions

    answerer = Answerer(index, replace(AnswerWeights(), threshold=-9))
    ranker = Ranker(index, SearchOptions(k=3))
    gold = {}
    for row in rows:
        gold.setdefault(row["question"], {})[row["doc_id"]] = row["answers"]
    right, negative = [], []
    for question, docs in gold.items():
        candidates = ranker.retrieve([question])[0]
        results = ranker.rank(candidates)
        ids = list(docs) + [r.article.id for r in results if r.article.id not in docs]
        for aid, scored in answerer.score(question, candidates.vector, ids).items():
            evidence, total = features.combine(scored.cosine, scored.signals, answerer.weights)
            best = float(evidence[int(total.argmax())])
            if aid in docs:
                answer = answerer.choose(question, scored)
                if any(answer_matches(answer.text, g) for g in docs[aid]):
                    right.append(best)
            else:
                negative.append(best)
    table = []
    print(f"\nthreshold: {len(right)} right answers, {len(negative)} non-answering top-3 articles")
    for t in (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
        kept = sum(e >= t for e in right) / max(len(right), 1)
        rejected = sum(e < t for e in negative) / max(len(negative), 1)
        table.append({"threshold": t, "right_kept": kept, "non_answering_rejected": rejected})
        print(f"  {t:.2f}: keeps {kept:.3f} of right answers, rejects {rejected:.3f} of non-answering articles")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--own", action="store_true", help="also sentences encoded alone at query time")
    parser.add_argument("--out", type=Path, default=Path("runs/tune-answers.json"))
    args = parser.parse_args()
    rows = [r for name in SETS for r in load(name)]
    index = OpenIndex(args.index)
    report = {}
    sources = [("span", False)] + ([("own", True)] if args.own else [])
    for label, own in sources:
        answerer = Answerer(index, vectors="query" if own else "stored")
        scored = scored_rows(answerer, rows)
        vectors = index.embedder.encode_queries([r["question"] for r in rows])
        raw = []
        for (row, s), q in zip(scored, vectors):
            stored = (index.store.sentence_vectors([row["doc_id"]]) if not own
                      else answerer._encode({row["doc_id"]: s.text}, [row["doc_id"]]))
            raw.append((stored[row["doc_id"]][1], q))
        off = AnswerWeights(semantic=0, lexical=0, lead=0, second=0, cue=0, centre=0, threshold=-9)
        baselines = {
            "lead sentence": replace(off, lead=1.0),
            "cosine only": replace(off, semantic=1.0),
            "cosine only, centred 0.5": replace(off, semantic=1.0, centre=0.5),
            "lexical only": replace(off, lexical=1.0, lead=0.01),
        }
        table = {name: accuracy(answerer, scored, w, raw) for name, w in baselines.items()}
        grid = []
        for centre, lex, lead, second, cue in itertools.product(
                (0.0, 0.25, 0.5), (0.0, 0.1, 0.2, 0.3, 0.5), (0.0, 0.1, 0.15, 0.2, 0.25, 0.3),
                (0.0, 0.03, 0.06), (0.0, 0.03, 0.06, 0.1)):
            w = AnswerWeights(semantic=1.0, lexical=lex, lead=lead, second=second, cue=cue, centre=centre,
                              threshold=-9)
            acc = accuracy(answerer, scored, w, raw)
            grid.append((np.mean([acc[s] for s in SETS]), w, acc))
        grid.sort(key=lambda g: -g[0])
        for mean, w, acc in grid[:5]:
            table[f"grid c={w.centre} lex={w.lexical} lead={w.lead} 2nd={w.second} cue={w.cue}"] = acc
        default = AnswerWeights(threshold=-9)
        table["default " + repr(default)] = accuracy(answerer, scored, default, raw)
        report[label] = table
        print(f"\n== sentence vectors: {label}")
        groups = list(next(iter(table.values())))
        print(f"{'variant':50} " + " ".join(f"{g[-14:]:>14}" for g in groups))
        for name, acc in table.items():
            print(f"{name[:50]:50} " + " ".join(f"{acc[g]:14.3f}" for g in groups))
    report["threshold"] = threshold_table(index, rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
