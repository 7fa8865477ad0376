"""Where the shared test sets are and how they are read: queries, qrels, judged answers.

One loader for every research script (evaluate.py, evaluate_milvus.py, tune_answers.py,
relevance_cut.py, near_duplicates.py): a set is a folder under ../shared/data/ (or any path)
holding queries.jsonl and qrels.tsv, and answers.jsonl where answer sentences are judged.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
TUNE_SPLITS = ("train", "dev")

_SYNTAX_CHARS = re.compile(r"[\"():*^~\[\]{}]|\?(?![\s?]|$)")
_OPERATORS = re.compile(r"\b(?:AND|OR|NOT|ANDNOT|ANDMAYBE)\b")
SANITIZER_NOTE = ('queries sanitized in every mode: removed " ( ) : * ^ ~ [ ] { }, a ? inside a word, and '
                  "the uppercase words AND OR NOT ANDNOT ANDMAYBE (a ? ending a word is punctuation to byline)")


def sanitize(text: str) -> str:
    """Strip Whoosh query syntax so a natural-language query is read as plain words."""
    text = _OPERATORS.sub(" ", _SYNTAX_CHARS.sub(" ", text))
    return " ".join(text.split())


# --- data ------------------------------------------------------------------------------------

@dataclass
class TestSet:
    name: str
    folder: Path
    split: str
    queries_file: Path
    qrels_file: Path
    queries: dict[str, str]  # judged queries only, id -> text as given
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}
    answers: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # qid -> {doc id: judged sentences}
    kinds: dict[str, str] = field(default_factory=dict)  # qid -> kind (paraphrase, mixed, keyword)


ANSWER_EVAL = DATA.parent / "tools" / "answer_eval.py"


def answer_matches(returned: str, gold: str) -> bool:
    """The judgement of ../shared/tools/answer_eval.py: `returned` holds >= 60% of the words of
    the judged answer `gold` and is not much longer (imported from it, so the two never differ)."""
    import importlib.util

    module = sys.modules.get("byline_answer_eval")
    if module is None:
        if not ANSWER_EVAL.is_file():
            sys.exit(f"{ANSWER_EVAL} is missing; it scores answers")
        spec = importlib.util.spec_from_file_location("byline_answer_eval", ANSWER_EVAL)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["byline_answer_eval"] = module
    return module.matches(returned, gold)


# Query sets that search another set's corpus.
CORPUS_OF = {"bbc_qa_dev": "bbc_news", "bbc_qa_dev2": "bbc_news"}


def locate(spec: str) -> Path:
    folder = Path(spec).expanduser()
    if not (folder / "queries.jsonl").is_file():
        folder = DATA / spec
    if not (folder / "queries.jsonl").is_file():
        sys.exit(f"no queries.jsonl in {spec!r} or {folder}")
    return folder.resolve()


def corpus_folder(folder: Path) -> Path:
    """Where the set's corpus.jsonl is: its own folder, or the one CORPUS_OF names."""
    if (folder / "corpus.jsonl").is_file():
        return folder
    other = folder.parent / CORPUS_OF.get(folder.name, "")
    if (other / "corpus.jsonl").is_file():
        return other
    sys.exit(f"no corpus.jsonl for {folder}")


def split_files(folder: Path, split: str) -> tuple[Path, Path]:
    if split == "test":
        return folder / "queries.jsonl", folder / "qrels.tsv"
    for name in TUNE_SPLITS:
        if (folder / f"queries_{name}.jsonl").is_file() and (folder / f"qrels_{name}.tsv").is_file():
            return folder / f"queries_{name}.jsonl", folder / f"qrels_{name}.tsv"
    sys.exit(f"{folder} has no tuning split (queries_train/dev.jsonl + qrels_train/dev.tsv)")


def read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_set(spec: str, split: str, limit: int | None) -> TestSet:
    folder = locate(spec)
    queries_file, qrels_file = split_files(folder, split)
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_file, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    records = [q for q in read_jsonl(queries_file) if str(q["_id"]) in qrels]
    queries = {str(q["_id"]): q["text"] for q in records}
    kinds = {str(q["_id"]): q["kind"] for q in records if q.get("kind")}
    if limit:
        queries = dict(list(queries.items())[:limit])
    qrels = {qid: docs for qid, docs in qrels.items() if qid in queries}
    kinds = {q: k for q, k in kinds.items() if q in queries}
    answers: dict[str, dict[str, list[str]]] = {}
    if split == "test" and (folder / "answers.jsonl").is_file():
        for row in read_jsonl(folder / "answers.jsonl"):
            if str(row["_id"]) in queries:
                answers.setdefault(str(row["_id"]), {})[str(row["doc_id"])] = row["answers"]
    return TestSet(folder.name, folder, split, queries_file, qrels_file, queries, qrels, answers, kinds)
