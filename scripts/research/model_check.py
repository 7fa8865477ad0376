"""Check a named model end to end and print figures: where it is, how long resolving it takes
(the first time: the mpnet join and its verification), where its ONNX exports are cached, and
how close the ONNX vectors (fp32 queries, int8 passages) are to sentence-transformers on PyTorch.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/research/model_check.py mpnet [--texts 200]

Texts are passages of ../shared/data/bbc_news (else the bundled samples), cut at 1,000 characters.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from index.embedder import Embedder  # noqa: E402
from index.models import resolve_model  # noqa: E402
from index.onnx_backend import export_dir  # noqa: E402


def texts(n: int) -> list[str]:
    corpus = ROOT.parent / "shared" / "data" / "bbc_news" / "corpus.jsonl"
    out = []
    if corpus.is_file():
        with open(corpus) as fh:
            for line in fh:
                record = json.loads(line)
                out.append((record.get("title", "") + "\n" + record.get("text", ""))[:1000])
                if len(out) >= n:
                    break
    else:
        out = [p.read_text()[:1000] for p in sorted((ROOT / "samples").glob("*.txt"))][:n]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", help="minilm, mpnet or a folder")
    parser.add_argument("--texts", type=int, default=200)
    args = parser.parse_args()

    t = time.perf_counter()
    info = resolve_model(args.model)
    print(f"model {info.name}: {info.path} ({info.dimension} dims, {info.max_seq_length} tokens); "
          f"resolved in {time.perf_counter() - t:.1f} s")
    print(f"ONNX cache: {export_dir(info.path, info.name)}")
    sample = texts(args.texts)
    torch = Embedder(info, backend="torch")
    onnx = Embedder(info, backend="onnx")
    t = time.perf_counter()
    reference = torch.encode(sample)
    torch_s = time.perf_counter() - t
    onnx.encode(sample[:2]), onnx.encode_queries(sample[:2])  # exports (once) and loads both
    t = time.perf_counter()
    int8 = onnx.encode(sample)
    int8_s = time.perf_counter() - t
    fp32 = onnx.encode_queries(sample)
    for label, vectors in (("ONNX fp32 (queries)", fp32), ("ONNX int8 (passages)", int8)):
        cosines = (vectors * reference).sum(axis=1)
        print(f"{label} vs sentence-transformers: cosine mean {cosines.mean():.4f}, min {cosines.min():.4f}")
    print(f"{len(sample)} passages: torch {len(sample) / torch_s:.1f}/s, ONNX int8 {len(sample) / int8_s:.1f}/s "
          "(one process; the machine's load counts)")


if __name__ == "__main__":
    main()
