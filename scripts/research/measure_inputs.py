"""Question: how long does one input file take to read, by size and element count? The figures behind the
reader's caps (index/readers/limits.py; docs/performance.md, "Caps on one input file").

Each measurement runs in a fresh child process, which reports its time and peak memory.

    python scripts/research/measure_inputs.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORDS = ("the minister said talks would resume next week after the vote in parliament on "
         "sanctions and trade ").split()


def sentence(i: int) -> str:
    words = [WORDS[(i * 7 + j) % len(WORDS)] for j in range(14)]
    return " ".join(words).capitalize() + "."


def html_page(elements: int, words_per_element: int) -> str:
    body = "".join(f"<p>{' '.join(WORDS[(i + j) % len(WORDS)] for j in range(words_per_element))}</p>"
                   for i in range(elements))
    return f"<html><head><title>T</title></head><body><article><h1>Title</h1>{body}</article></body></html>"


def text_article(chars: int) -> str:
    out, i, size = ["Title\n"], 0, 0
    while size < chars:
        paragraph = " ".join(sentence(i + k) for k in range(5))
        out.append(paragraph)
        size += len(paragraph) + 2
        i += 5
    return "\n\n".join(out)


def child(kind: str, n: int, extra: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from index import readers

    if kind == "html":
        page = html_page(n, extra)
        started = time.perf_counter()
        article = readers.parse_html(page, "x.html")
        seconds = time.perf_counter() - started
        out = {"bytes": len(page.encode()), "elements": n, "body_chars": len(article.text)}
    else:
        from index.chunker import ChunkingParams, chunk_article
        from index.embedder import Embedder, resolve_model

        text = text_article(n)
        article = readers.parse_plain(text, "x.txt")
        embedder = Embedder(resolve_model())
        embedder.count_tokens("warm up")
        started = time.perf_counter()
        chunks = chunk_article(article, ChunkingParams(), embedder.count_tokens)
        seconds = time.perf_counter() - started
        out = {"bytes": len(text.encode()), "passages": len(chunks)}
    out["seconds"] = round(seconds, 2)
    out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def measure(kind: str, n: int, extra: int = 0) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(n), str(extra)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    baseline = measure("html", 1, 2)["peak_mb"]
    print(f"HTML, html.parser (a child reading a 1-element page peaks at {baseline} MB):")
    for elements, words in ((1_000, 60), (10_000, 60), (10_000, 2), (50_000, 2), (100_000, 2), (200_000, 2)):
        r = measure("html", elements, words)
        print(f"  {r['elements']:>7,} elements of {words:>2} words, {r['bytes'] / 2**20:5.1f} MB: "
              f"{r['seconds']:6.2f} s, peak {r['peak_mb']} MB")
    print("Plain text, passages of 200 tokens (chunking only; embedding runs at ~68 passages/s):")
    for chars in (25_000, 200_000, 1_000_000, 3_000_000):
        r = measure("text", chars)
        print(f"  {r['bytes'] / 2**20:5.2f} MB: {r['passages']:>6,} passages, chunked in {r['seconds']:6.2f} s, "
              f"peak {r['peak_mb']} MB")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
