"""Question: which answer weights pick the judged sentence, given the right article?

For every (question, answering article) of bbc_qa_dev and bbc_qa_dev2 (answers.jsonl), each
sentence of the article is scored as search/answering/answers.py scores it, and the chosen answer is
checked as ../shared/tools/answer_eval.py checks it (>= 60% of a judged sentence's words, not
much longer). This is answer accuracy given the right article (the ceiling of Answer@1 is P@1
times it); it isolates answer choice from retrieval. Prints the accuracy per set and kind for:
the lead sentence, each signal alone, the weight grid's best points (chosen on the mean of the
two sets), the default, and the variants tried on top of the default (two adjacent sentences,
transforms of the sentence cosine, priors for "why" questions, a rewritten "why" query), with
how many answers are two sentences and their mean length in words; for the sentence vectors of
the index given (late-chunked at ingest: "span") and, with --own, for sentences encoded on
their own at query time.

    PYTHONPATH=. .venv/bin/python scripts/research/tune_answers.py ~/.cache/byline-eval-v2/bbc_news-200-1-int8-sent --own
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testsets import DATA, answer_matches, read_jsonl  # noqa: E402
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


WORD = re.compile(r"\w+")


def accuracy(answerer: Answerer, scored: list, weights: AnswerWeights, raw: list | None = None,
             cosine=None, weights_for=None, choose=None) -> dict:
    """Share of rows answered right, per set and set/kind, with the share of answers that are
    two sentences ("joined") and their mean words. `cosine(i, matrix, query)` replaces row i's
    sentence cosines, `weights_for(question kind)` the weights, `choose(answerer, row, scored)`
    the answer's text."""
    hits: dict[str, list[int]] = {}
    joined, words = [], []
    for i, ((row, s), matrix) in enumerate(zip(scored, raw or [None] * len(scored))):
        answerer.weights = weights_for(s.signals.question) if weights_for else weights
        if matrix is not None:  # re-centre (or transform) the cosines for this grid point
            s.cosine = (cosine(i, *matrix) if cosine else
                        features.cosines(matrix[0], matrix[1], answerer.weights.centre))
        if choose:
            text = choose(answerer, row, s)
        else:
            answer = answerer.choose(row["question"], s)
            text = answer.text if answer is not None else None
        ok = text is not None and any(answer_matches(text, g) for g in row["answers"])
        for group in (row["set"], f"{row['set']}/{row['kind']}"):
            hits.setdefault(group, []).append(int(ok))
        if text is not None:
            joined.append(int(text.strip() not in {s.text[a:b].strip() for a, b in s.offsets}))
            words.append(len(WORD.findall(text)))
    out = {g: sum(v) / len(v) for g, v in sorted(hits.items())}
    out["joined"] = sum(joined) / max(len(joined), 1)
    out["words"] = sum(words) / max(len(words), 1)
    return out


def join_any(no_longer: bool, margin: float):
    """A chooser for the looser joins features.join_with measures but the default never uses:
    the default's best sentence joined with its better-scoring neighbour within `margin`, of
    any length or (`no_longer`) only one no longer than the best sentence (or JOIN_SHORT words)."""
    def choose(answerer: Answerer, row: dict, s) -> str | None:
        answer = answerer.choose(row["question"], s)
        if answer is None:
            return None
        _, total = features.combine(s.cosine, s.signals, answerer.weights)
        best = int(total.argmax())
        if int(s.offsets[best][0]) != answer.start or int(s.offsets[best][1]) != answer.end:
            return answer.text  # already joined (a sentence that cannot stand alone)
        other = features.join_with(s.text, s.offsets, total, best, margin, "no_longer" if no_longer else "any")
        if other is None:
            return answer.text
        lo, hi = min(best, other), max(best, other)
        return s.text[int(s.offsets[lo][0]):int(s.offsets[hi][1])]
    return choose


def cosine_variants(raw: list) -> dict:
    """Transforms of the sentence cosine within each article, each with the semantic weight it
    was measured at (the other weights are the default's)."""
    def base(i, m, q):
        return features.cosines(m, q, 0.0)

    def zscore(i, m, q):
        c = base(i, m, q)
        return (c - c.mean()) / (c.std() + 1e-6)

    def rank(i, m, q):
        c = base(i, m, q)
        return 1.0 / (1 + np.argsort(np.argsort(-c)))

    def softmax(t):
        def f(i, m, q):
            c = base(i, m, q)
            e = np.exp((c - c.max()) / t)
            return e / e.sum()
        return f

    def neighbours(i, m, q):  # each sentence's vector with half of each neighbour's
        m = m.astype(np.float32)
        pooled = m.copy()
        pooled[1:] += 0.5 * m[:-1]
        pooled[:-1] += 0.5 * m[1:]
        return features.cosines(pooled, q, 0.0)

    out = {f"cosine z-scored in the article, w={w}": (zscore, w) for w in (0.02, 0.05, 0.1)}
    out.update({f"cosine rank 1/(1+r), w={w}": (rank, w) for w in (0.1, 0.2)})
    for t, w in ((0.05, 0.5), (0.1, 0.5), (0.1, 1.0), (0.1, 1.5), (0.15, 1.0), (0.15, 2.0)):
        out[f"cosine softmax T={t}, w={w}"] = (softmax(t), w)
    out["cosine of the sentence with its neighbours"] = (neighbours, 1.0)
    return out


def why_rewritten(index: OpenIndex, scored: list, raw: list):
    """Cosines to the query rewritten for "why" questions ("why did X" -> "the reason X")."""
    why = {i: "the reason " + re.sub(r"(?i)^\s*why\s+", "", row["question"])
           for i, (row, s) in enumerate(scored) if s.signals.question == "why"}
    vectors = dict(zip(why, index.embedder.encode_queries(list(why.values()))))

    def f(i, m, q):
        return features.cosines(m, vectors.get(i, q), 0.0)
    return f


def variants(index: OpenIndex, answerer: Answerer, scored: list, raw: list) -> dict:
    """The variants tried on top of the default weights."""
    default = AnswerWeights(threshold=-9)
    table = {}
    for margin in (0.1, 0.2, 0.3, 0.5, 1.0):
        table[f"join a neighbour of about the same length, margin {margin}"] = accuracy(
            answerer, scored, replace(default, join_margin=margin), raw)
    for margin in (0.1, 0.3, 0.5, 1.0):
        table[f"join a neighbour no longer than the best, margin {margin}"] = accuracy(
            answerer, scored, default, raw, choose=join_any(True, margin))
    for margin in (0.1, 0.3, 1.0):
        table[f"join the better neighbour (any length), margin {margin}"] = accuracy(
            answerer, scored, default, raw, choose=join_any(False, margin))
    for name, (fn, w) in cosine_variants(raw).items():
        table[name] = accuracy(answerer, scored, replace(default, semantic=w), raw, cosine=fn)
    for name, change in (("lead 0.15", {"lead": 0.15}), ("lead 0.1", {"lead": 0.1}),
                         ("2nd 0.15", {"second": 0.15}), ("2nd 0", {"second": 0.0}),
                         ("cue 0.2", {"cue": 0.2}), ("words 0", {"lexical": 0.0}),
                         ("lead 0.15, 2nd 0.15", {"lead": 0.15, "second": 0.15})):
        why = replace(default, **change)
        table[f"why questions: {name}"] = accuracy(
            answerer, scored, default, raw, weights_for=lambda q, why=why: why if q == "why" else default)
    table["why questions: query rewritten \"the reason ...\""] = accuracy(
        answerer, scored, default, raw, cosine=why_rewritten(index, scored, raw))
    kept = [s.signals.cue for _, s in scored]
    for _, s in scored:  # the why cue without its ambiguous words (after, over, since, amid ...)
        if s.signals.question == "why":
            s.signals.cue = np.array([float(bool(NARROW_WHY.search(s.text[a:b]))) for a, b in s.offsets])
    for name, change in (("", {}), (", lead 0.15, cue 0.2", {"lead": 0.15, "cue": 0.2})):
        why = replace(default, **change)
        table[f"why questions: narrow cue{name}"] = accuracy(
            answerer, scored, default, raw, weights_for=lambda q, why=why: why if q == "why" else default)
    for (_, s), cue in zip(scored, kept):
        s.signals.cue = cue
    return table


NARROW_WHY = re.compile(r"(?i)\b(because|due to|as a result|so that|in order to|blamed|reasons?|caused|led to)\b")


def errors(answerer: Answerer, scored: list) -> dict:
    """Where the default goes wrong: the lead chosen when it does not answer, a later sentence
    chosen when the lead answers (or when neither does); and the pairs gained over always
    answering with the lead when the best other sentence is chosen if the lead leads it by
    less than t (the default's decision point is t=0)."""
    answerer.weights = AnswerWeights(threshold=-9)
    counts = {"pairs": 0, "lead right": 0, "wrong: lead chosen, lead wrong": 0,
              "wrong: later chosen, lead right": 0, "wrong: later chosen, lead wrong too": 0}
    margins = []
    for row, s in scored:
        n = len(s.offsets)

        def right(i):
            end = s.offsets[i + 1][1] if i + 1 < n and features.needs_next(s.text[s.offsets[i][0]:s.offsets[i][1]]) \
                else s.offsets[i][1]
            return any(answer_matches(s.text[int(s.offsets[i][0]):int(end)], g) for g in row["answers"])
        _, total = features.combine(s.cosine, s.signals, answerer.weights)
        best = int(total.argmax())
        lead_ok, best_ok = right(0), right(best)
        counts["pairs"] += 1
        counts["lead right"] += lead_ok
        if not best_ok:
            key = "lead chosen, lead wrong" if best == 0 else \
                ("later chosen, lead right" if lead_ok else "later chosen, lead wrong too")
            counts["wrong: " + key] += 1
        if n > 1:
            other = 1 + int(total[1:].argmax())
            margins.append((float(total[0] - total[other]), lead_ok, right(other)))
    for t in (-0.1, 0.0, 0.05, 0.1, 0.15, 0.2):
        counts[f"gain over the lead, t={t}"] = sum(
            (o and not lead) - (lead and not o) for m, lead, o in margins if m < t)
    return counts


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


def show(title: str, table: dict) -> None:
    print(f"\n== {title}")
    groups = list(next(iter(table.values())))
    print(f"{'variant':62} " + " ".join(f"{g[-14:]:>14}" for g in groups))
    for name, acc in table.items():
        print(f"{name[:62]:62} " + " ".join(f"{acc[g]:14.3f}" for g in groups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--own", action="store_true", help="also sentences encoded alone at query time")
    parser.add_argument("--out", type=Path, default=Path("runs/tune-answers.json"))
    args = parser.parse_args()
    rows = [r for name in SETS for r in load(name)]
    index = OpenIndex(args.index)
    report = {}
    kept = {}
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
        table.update(variants(index, answerer, scored, raw))
        report[label] = table
        kept[label] = (answerer, scored, raw)
        show(f"sentence vectors: {label}", table)
    answerer, scored, raw = kept["span"]
    report["errors"] = errors(answerer, scored)
    print("\n== where the default goes wrong (span)")
    for key, value in report["errors"].items():
        print(f"  {key}: {value}")
    if "own" in kept:  # both vectors, mixed: share a of the span-pooled cosine
        own = kept["own"][2]
        table = {}
        for a, lead, lex in itertools.product((0.0, 0.25, 0.5, 0.75, 1.0), (0.15, 0.25, 0.3, 0.4), (0.3, 0.5)):
            def mixed(i, m, q, a=a):
                return a * features.cosines(m, q, 0.0) + (1 - a) * features.cosines(own[i][0], q, 0.0)
            table[f"span x {a} + own x {1 - a}, lead {lead}, words {lex}"] = accuracy(
                answerer, scored, AnswerWeights(lead=lead, lexical=lex, threshold=-9), raw, cosine=mixed)
        best = sorted(table.items(), key=lambda kv: -np.mean([kv[1][s] for s in SETS]))[:8]
        report["mixed"] = dict(best)
        show("span-pooled and own vectors mixed (the 8 best of the grid)", dict(best))
    report["threshold"] = threshold_table(index, rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
