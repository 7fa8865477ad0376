"""Question: which tuned values suit an embedding model? A coarse grid on the tuning sets only.

The ranking values tuned for MiniLM (fusion weights, RRF k, lexical confidence, sentence and
lead evidence, query feedback) are searched on coarse grids, one stage at a time on top of a
base (`--base`, JSON of `SearchOptions` fields, or a calibration file's "ranking"), over the
tuning sets: bbc_qa_dev and bbc_qa_dev2 (development sets: all their questions) and the tuning
splits of SciFact (train) and NFCorpus (dev). Every grid point is one ranking of the same
retrieved candidates (scripts/research/evaluate.py retrieves once per set), so a stage costs minutes, not
index builds. Printed per grid point: nDCG@10 per set, bbc_qa_dev2's paraphrase questions
apart, Answer@1 on both BBC sets, the mean nDCG@10 over the four sets, and the smallest
"hybrid minus semantic" over them (the rule: hybrid at least its semantic half everywhere).
Reports in evaluate.py's format go to runs/calib-<stage>-<set>.json, so scripts/research/paired.py
tests any two rows.

`--split test` instead scores the test sets (bbc_qa_dev2, bbc_qa_dev, SciFact test, NFCorpus
test) once, for a calibration file already chosen: lexical, semantic, hybrid at byline's
defaults (MiniLM's values) and hybrid at the file's values (its "answers" weights too).

    PYTHONPATH=. .venv/bin/python scripts/research/calibrate_model.py --model /work/mpnet/all-mpnet-base-v2 --stage fusion
    PYTHONPATH=. .venv/bin/python scripts/research/calibrate_model.py --model ... --stage evidence --base '{"semantic_weight": 0.8}'
    PYTHONPATH=. .venv/bin/python scripts/research/calibrate_model.py --model ... --split test \\
        --calibration search/calibrations/mpnet.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate  # noqa: E402
from evaluate import DEFAULT_CACHE, K, DEPTH, Variant, fusion_name, log, run_set  # noqa: E402
from search.answering.answers import AnswerWeights  # noqa: E402
from search.ranking.ranker import SearchOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TUNE = (("bbc_qa_dev2", "test"), ("bbc_qa_dev", "test"), ("scifact", "tune"), ("nfcorpus", "tune"))
TEST = (("bbc_qa_dev2", "test"), ("bbc_qa_dev", "test"), ("scifact", "test"), ("nfcorpus", "test"))


def grid(stage: str, base: SearchOptions) -> list[SearchOptions]:
    """The grid points of one stage, each a change of `base`."""
    if stage == "fusion":
        return [replace(base, semantic_weight=w, question_weight=w, rrf_k=k, lexical_confidence=c)
                for w, k, c in itertools.product((0.65, 0.7, 0.75, 0.8, 0.85), (1.0, 2.0, 5.0), (0.0, 0.15, 0.3))]
    if stage == "question":
        return [replace(base, question_weight=q) for q in (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)]
    if stage == "evidence":
        return [replace(base, sentence_depth=d, sentence_weight=s, lead_weight=l)
                for d, s, l in itertools.product((30, 50), (0.0, 0.1, 0.2, 0.3), (0.0, 0.2, 0.3, 0.4))]
    if stage == "feedback":
        out = [replace(base, feedback_gate="off")]
        out += [replace(base, feedback_strength=t, feedback_weight=fw)
                for t, fw in itertools.product((0.2, 0.3, 0.5), (0.5, 1.0))]
        return out + [replace(base, feedback_gate="agree"), replace(base, feedback_gate="non-question")]
    sys.exit(f"calibrate_model: unknown stage {stage!r}")


def namespace(split: str, cache: Path, answer_weights: str) -> argparse.Namespace:
    """The options scripts/evaluate.py's run_set reads, as its command line gives them."""
    return argparse.Namespace(split=split, limit_queries=None, max_tokens=200, overlap=1, cache=cache,
                              answer_vectors="stored", answer_weights=answer_weights, variants="default")


def summary(reports: list[dict]) -> list[dict]:
    """One line per hybrid variant: the figures the calibration is chosen on."""
    by_set = {r["set"]: {v["name"]: v["metrics"] for v in r["variants"]} for r in reports}
    names = [v["name"] for v in reports[0]["variants"]]
    lines = []
    for name in names:
        line = {"name": name}
        gaps = []
        for s, rows in by_set.items():
            m = rows[name]
            line[s] = m["nDCG@10"]
            if "nDCG@10 paraphrase" in m:
                line[f"{s} para"] = m["nDCG@10 paraphrase"]
            if "Answer@1" in m:
                line[f"{s} A@1"] = m["Answer@1"]
            gaps.append(m["nDCG@10"] - rows["semantic"]["nDCG@10"])
        line["mean"] = sum(rows[name]["nDCG@10"] for rows in by_set.values()) / len(by_set)
        line["min(hyb-sem)"] = min(gaps)
        lines.append(line)
    return lines


def print_summary(lines: list[dict]) -> None:
    keys = [k for k in lines[0] if k != "name"]
    print(f"{'variant':90} " + " ".join(f"{k.replace('bbc_qa_', '')[-13:]:>13}" for k in keys))
    for line in lines:
        print(f"{line['name'][:90]:90} " + " ".join(f"{line[k]:13.4f}" for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", metavar="FOLDER", help="the embedding model folder [default: byline's]")
    parser.add_argument("--stage", choices=("fusion", "question", "evidence", "feedback", "none"), default="none")
    parser.add_argument("--base", default="{}", help="JSON of SearchOptions fields the grid starts from")
    parser.add_argument("--points", default="[]", help="JSON list of SearchOptions changes of the base: "
                        "extra grid points (the best few of a stage, checked on other sets)")
    parser.add_argument("--calibration", type=Path, help="a search/calibrations/<model>.json: its ranking "
                        "values are the base, its answer weights score answers")
    parser.add_argument("--split", choices=("tune", "test"), default="tune")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--sets", nargs="+", metavar="SET", help="only these of the four sets")
    parser.add_argument("--tag", default="", help="added to the report names")
    args = parser.parse_args()
    if args.model:
        os.environ["BYLINE_MODEL"] = args.model
    ranking, answers = json.loads(args.base), {}
    if args.calibration:
        data = json.loads(args.calibration.read_text())
        ranking, answers = {**data.get("ranking", {}), **ranking}, data.get("answers", {})
    evaluate.ANSWER_WEIGHTS["calibrated"] = replace(AnswerWeights(), **answers)
    base = SearchOptions(k=K, depth=DEPTH)
    calibrated = replace(base, mode="hybrid", **ranking)
    plain = [Variant(mode, replace(base, mode=mode)) for mode in ("lexical", "semantic")]
    stage = "test" if args.split == "test" else args.stage
    reports = []
    for name, split in (TEST if args.split == "test" else TUNE):
        if args.sets and name not in args.sets:
            continue
        if args.split == "test":  # MiniLM's values with its answer weights, then the file's
            first = run_set(name, namespace("test", args.cache, "default"),
                            plain + [Variant("hybrid, default values", replace(base, mode="hybrid"))])
            second = run_set(name, namespace("test", args.cache, "calibrated"),
                             [Variant("hybrid, calibrated", calibrated)])
            first["variants"] += second["variants"]
            report = first
        else:
            points = [calibrated] + (grid(args.stage, calibrated) if args.stage != "none" else [])
            points += [replace(calibrated, **change) for change in json.loads(args.points)]
            chosen = plain + [Variant(fusion_name(o), o) for o in points]
            chosen = list({v.name: v for v in reversed(chosen)}.values())[::-1]
            report = run_set(name, namespace(split, args.cache, "calibrated"), chosen)
        report["calibration"] = {"ranking": ranking, "answers": answers}
        out = ROOT / "runs" / f"calib{args.tag}-{stage}-{name}-{split}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {out}")
        reports.append(report)
    lines = summary(reports)
    print_summary(lines)
    (ROOT / "runs" / f"calib{args.tag}-{stage}-summary.json").write_text(json.dumps(lines, indent=2) + "\n")


if __name__ == "__main__":
    main()
