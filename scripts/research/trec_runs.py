"""Question: does a change alter any ranking, passage, highlight or answer? (write runs before and after, then cmp)

Every query of each SET goes through `search.engine.Engine` as `byline search -k 100` does
(collapse on), in the modes hybrid, lexical and semantic; the run holds TREC lines
(`qid Q0 doc rank score mode`) and, for the first three results, `#answer` (offsets, score, who)
and `#passage` (chunk id, highlight spans) lines. Set PYTHONHASHSEED=0 for byte-identical runs:
an answer's score sums idf weights over a set of words, whose order (and so the last digits of
the sum) follows the hash seed.

    PYTHONHASHSEED=0 PYTHONPATH=. .venv/bin/python scripts/research/trec_runs.py INDEX bbc_qa_dev bbc_qa_dev2 --out DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from testsets import locate, read_jsonl  # noqa: E402
from search.engine import Engine, SearchRequest  # noqa: E402
from search.rendering.output import result_dict  # noqa: E402

MODES = ("hybrid", "lexical", "semantic")
K, SHOWN = 100, 3


def write_run(engine: Engine, queries: list[dict], out: Path) -> None:
    with out.open("w", encoding="utf-8") as f:
        for mode in MODES:
            responses = engine.search_many([q["text"] for q in queries], SearchRequest("", k=K, mode=mode),
                                           answers=True, answer_limit=SHOWN)
            for q, response in zip(queries, responses):
                for r in response.results:
                    f.write(f"{q['_id']} Q0 {r.article.id} {r.rank} {r.score!r} {mode}\n")
                    if r.rank > SHOWN:
                        continue
                    a = r.answer
                    if a is not None:
                        f.write(f"#answer {q['_id']} {r.article.id} {a.start} {a.end} {a.score!r} {a.who}\n")
                    f.write(f"#passage {q['_id']} {r.article.id} {r.chunk_id} {result_dict(r)['highlights']}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path, help="an index of the sets' corpus")
    parser.add_argument("sets", nargs="+", metavar="SET", help="name under ../shared/data/ or a folder path")
    parser.add_argument("--out", type=Path, default=Path("runs"), metavar="DIR")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    engine = Engine(args.index)
    for spec in args.sets:
        folder = locate(spec)
        out = args.out / f"{folder.name}.run"
        write_run(engine, list(read_jsonl(folder / "queries.jsonl")), out)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
