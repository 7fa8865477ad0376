"""Measure spelling suggestions (search/retrieval/spelling.py) on misspelt names.

For each line of scripts/research/misspellings.tsv (a misspelling of a real name from the BBC
News set and the name), asks the engine to search the misspelling (hybrid, as `byline search`
does, k = 10) and counts: how often "did you mean" suggests exactly the name, how often the results shown
(the corrected query's, when the query as typed found nothing) have the name in the top
article, and how long a suggestion takes.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 .venv/bin/python scripts/research/typos.py \
        ~/.cache/byline-eval/bbc_news-200-1-int8-sent
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

PAIRS = Path(__file__).with_name("misspellings.tsv")


def main(argv: list[str] | None = None) -> None:
    from search.engine import Engine, SearchRequest
    from search.retrieval import spelling

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--mode", default="hybrid")
    args = parser.parse_args(argv)
    pairs = [line.split("\t") for line in PAIRS.read_text("utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    engine = Engine(args.index.expanduser())
    engine.warm(semantic=args.mode != "lexical")
    right = shown = 0
    seconds = []
    for typed, expected in pairs:
        expected = expected.strip()
        started = time.perf_counter()
        suggestion = spelling.suggest(engine.index, typed)
        seconds.append(time.perf_counter() - started)
        response = engine.search(SearchRequest(typed, k=10, mode=args.mode))
        said = response.extra.get("suggestion")
        ok = said == expected
        right += ok
        top = response.results[0] if response.results else None
        text = engine.index.store.article_text(top.article.id) if top else None
        found = bool(text) and expected in " ".join(text).lower()
        shown += found
        print(f"{'ok ' if ok else 'NO '} {typed:<16} -> {str(said):<16} (expected {expected}); "
              f"corrected results: {bool(response.extra.get('corrected'))}; top article has the name: {found}"
              + ("" if suggestion is None or suggestion.text == said else f" [suggest(): {suggestion.text}]"))
    n = len(pairs)
    print(f"\n{n} misspellings: suggestion right {right}/{n} ({right / n:.0%}); top result holds the name "
          f"{shown}/{n} ({shown / n:.0%}); suggest() median {statistics.median(seconds) * 1000:.1f} ms, "
          f"max {max(seconds) * 1000:.1f} ms ({args.mode} mode)")
    engine.close()


if __name__ == "__main__":
    main()
