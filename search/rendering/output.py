"""Write search results as a terminal table, JSON, JSON Lines, TREC run lines or bare ids."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from index import controls

if TYPE_CHECKING:  # the ranker (numpy, FAISS) is not needed to write results, e.g. from a server
    from search.ranking.ranker import Result

FORMATS = ("table", "json", "jsonl", "trec", "ids")


@dataclass
class Answer:
    """The results of one query, with what identifies the query in batch output."""

    query_id: str
    query: str
    results: list[Result]
    extra: dict | None = None  # fields added to every JSON record (e.g. a saved search's name)


def result_dict(result: Result, wire: bool = False) -> dict:
    """A result as JSON; `wire` adds what `result_from_dict` needs to rebuild it (the query
    terms and whether the answer ends the article), for `byline search` through a server."""
    a = result.article
    out = {
        "rank": result.rank,
        "score": round(result.score, 6),
        "id": a.id,
        "title": a.title,
        "date": a.date,
        "source": a.source,
        "url": a.url,
        "path": a.path,
        "answer": result.answer.as_dict() if result.answer is not None else None,
        "passage": result.passage,
        "highlights": [list(span) for span in marks(result)],
        "chunk_id": result.chunk_id,
        "lexical_rank": result.lexical_rank,
        "semantic_rank": result.semantic_rank,
        "duplicates": [{"id": d.id, "title": d.title, "date": d.date, "source": d.source}
                       for d in result.duplicates],
    }
    if wire:
        out["terms"] = sorted(result.terms)
        out["answer_at_end"] = bool(result.answer is not None and result.answer.at_end)
    return out


def marks(result) -> list[tuple[int, int]]:
    """Where the query's words are in the result's passage: as the server sent them, else found
    here (which needs the index's analyzer, and so Whoosh)."""
    sent = getattr(result, "highlights", None)
    if sent is not None:
        return [tuple(span) for span in sent]
    from search.rendering import highlight

    return highlight.spans(result.passage, result.terms)


@dataclass
class WireAnswer:
    """An answer sentence as a server sent it (the fields of answers.AnswerSentence)."""

    text: str
    start: int
    end: int
    score: float
    who: str | None = None
    at_end: bool = False

    def as_dict(self) -> dict:
        out = {"text": self.text, "start": self.start, "end": self.end, "score": self.score}
        if self.who:
            out["who"] = self.who
        return out


@dataclass
class WireResult:
    """A result as a server sent it: what this module reads of a ranker.Result, without
    importing the ranker (numpy, FAISS), so `byline search` through a server starts fast."""

    rank: int
    score: float
    article: object
    passage: str
    chunk_id: int
    terms: set
    lexical_rank: int | None
    semantic_rank: int | None
    duplicates: list
    answer: WireAnswer | None
    highlights: list


def result_from_dict(d: dict) -> WireResult:
    """The result that `result_dict(result, wire=True)` describes."""
    from index.store import StoredArticle

    a = d.get("answer")
    answer = None if a is None else WireAnswer(a["text"], a["start"], a["end"], a["score"], a.get("who"),
                                               bool(d.get("answer_at_end")))
    return WireResult(
        rank=d["rank"], score=d["score"],
        article=StoredArticle(d["id"], d["title"], d["date"], d["source"], d["url"], d["path"]),
        passage=d["passage"], chunk_id=d["chunk_id"], terms=set(d.get("terms", ())),
        lexical_rank=d["lexical_rank"], semantic_rank=d["semantic_rank"],
        duplicates=[StoredArticle(x["id"], x["title"], x["date"], x["source"], None, None) for x in d["duplicates"]],
        answer=answer, highlights=[tuple(span) for span in d["highlights"]])


def copies_note(result: Result) -> str:
    """"+2 copies (Source A, Source B)" for a result standing for a cluster, else ""."""
    if not result.duplicates:
        return ""
    n = len(result.duplicates)
    names = list(dict.fromkeys(d.source or d.id for d in result.duplicates))
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"+{n} {'copy' if n == 1 else 'copies'} ({shown})"


def spelling_of(data: dict) -> dict:
    """The spelling fields of a response (search/engine.py): "suggestion" and "corrected"."""
    return {key: data[key] for key in ("suggestion", "corrected") if data.get(key) is not None}


def spelling_note(extra: dict) -> str:
    """"did you mean: ..." or, when the results are the corrected query's, says so."""
    if extra.get("corrected"):
        return f"no article matches the query as typed; showing results for: {extra['suggestion']}"
    return f"did you mean: {extra['suggestion']}" if extra.get("suggestion") else ""


def answer_dict(answer: Answer) -> dict:
    return {**(answer.extra or {}), "query_id": answer.query_id, "query": answer.query,
            "results": [result_dict(r) for r in answer.results]}


def write(answers: Sequence[Answer], fmt: str, out: TextIO, tag: str = "byline", batch: bool = False) -> None:
    """Write `answers` in format `fmt`. A single non-batch answer in JSON is one object.
    Control characters never reach `out` raw (index/controls.py)."""
    if fmt == "json":
        data = [answer_dict(a) for a in answers]
        out.write(controls.json_text(json.dumps(data if batch or len(data) != 1 else data[0], ensure_ascii=False,
                                                indent=2)))
        out.write("\n")
        return
    if fmt == "jsonl":
        for a in answers:
            for r in a.results:
                record = {**(a.extra or {}), "query_id": a.query_id, "query": a.query, **result_dict(r)}
                out.write(controls.json_text(json.dumps(record, ensure_ascii=False)) + "\n")
        return
    answers = controls.printable(list(answers))
    if fmt == "trec":
        for a in answers:
            if not isinstance(a.query_id, str) or not a.query_id or any(c.isspace() for c in a.query_id):
                raise ValueError(f"query id {a.query_id!r} cannot be written in a TREC run: use a string "
                                 "without spaces")
            for r in a.results:
                out.write(f"{a.query_id} Q0 {r.article.id} {r.rank} {r.score:.6f} {tag}\n")
    elif fmt == "ids":
        for a in answers:
            for r in a.results:
                out.write(f"{r.article.id}\n")
    elif fmt == "table":
        _write_tables(answers, out, show_query=batch or len(answers) > 1)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


NARROW = 60  # below this many columns each result is printed as a block, not a table row


def _mark_style(console) -> str | None:
    """How the query's words stand out: in colour; bold and underlined under NO_COLOR; in
    [brackets] where no style shows at all (a file, a pipe, a dumb terminal)."""
    if console.color_system is None:
        return None
    return "bold underline" if console.no_color else "bold yellow"


def _write_tables(answers: Sequence[Answer], out: TextIO, show_query: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=False)
    mark = _mark_style(console)
    for answer in answers:
        label = f"{(answer.extra or {}).get('name', answer.query_id)}: {answer.query}"
        if show_query:
            console.print(Text(label, style="bold cyan"))
        note = spelling_note(answer.extra or {})
        if note:
            console.print(Text(note, style="yellow"))
        if not answer.results:
            console.print(Text("  no article matches", style="dim"))
            continue
        if console.width < NARROW:
            _write_blocks(answer.results, console, mark)
            continue
        table = Table(show_lines=True, expand=True, pad_edge=False)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("article", ratio=2)
        table.add_column("answer · best passage", ratio=3)
        for r in answer.results:
            a = r.article
            meta = " · ".join(x for x in (a.date, a.source) if x)
            article = Text(a.title, style="bold")
            article.append(f"\n{meta}" if meta else "", style="green")
            article.append(f"\n{a.id}", style="dim")
            if r.duplicates:
                article.append(f"\n{copies_note(r)}", style="magenta")
            from search.rendering import highlight

            text, spans = highlight.snippet(r.passage, marks(r))
            passage = _answer_text(r, mark)
            passage.append_text(_marked(text, spans, "dim" if r.answer is not None else "", mark))
            table.add_row(str(r.rank), f"{r.score:.3f}", article, passage)
        console.print(table)


def _write_blocks(results: Sequence[Result], console, mark: str | None) -> None:
    """Each result as a block for a narrow terminal: its title line, a date and source line,
    the answer, the passage."""
    from rich.text import Text

    from search.rendering import highlight

    for r in results:
        a = r.article
        console.print(Text(f"{r.rank}. ", style="dim") + Text(a.title, style="bold"))
        meta = " · ".join(x for x in (a.date, a.source, f"{r.score:.3f}") if x)
        console.print(Text(meta, style="green") + Text(f"\n{a.id}", style="dim"))
        if r.duplicates:
            console.print(Text(copies_note(r), style="magenta"))
        text, spans = highlight.snippet(r.passage, marks(r), width=200)
        body = _answer_text(r, mark)
        body.append_text(_marked(text, spans, "dim" if r.answer is not None else "", mark))
        console.print(body)
        console.print()


def _marked(text: str, spans: list[tuple[int, int]], style: str = "", mark: str | None = "bold yellow"):
    """`text` with its spans in style `mark`, or put in [brackets] when `mark` is None."""
    from rich.text import Text

    if mark is None:
        out, at = Text(style=style), 0
        for start, end in spans:
            if start < at:
                continue
            out.append(text[at:start] + "[" + text[start:end] + "]")
            at = end
        out.append(text[at:])
        return out
    out = Text(text, style=style)
    for start, end in spans:
        out.stylize(mark, start, end)
    return out


def _answer_text(result: Result, mark: str | None = "bold yellow"):
    """The answer sentence, query words highlighted, "…" where the article goes on; then a
    blank line before the passage. Empty when the article has no answer."""
    from rich.text import Text

    answer = result.answer
    if answer is None:
        return Text("")
    from search.rendering import highlight

    text = " ".join(answer.text.split())
    out = Text("… " if answer.start > 0 else "", style="bold")
    out.append_text(_marked(text, highlight.spans(text, result.terms), "bold", mark))
    out.append(" …" if not answer.at_end else "", style="bold")
    if answer.who:
        out.append(f"\n→ {answer.who}", style="cyan")
    out.append("\n\n")
    return out


def write_answer_lines(answers: Sequence[Answer], out: TextIO, batch: bool = False) -> bool:
    """`search --answer`: the top result's answer, one line per query, with the article's title,
    date and source (batch runs start each line with the query id and a tab). Returns whether
    every query got an answer."""
    answers = controls.printable(list(answers))
    complete = True
    for a in answers:
        prefix = f"{a.query_id}\t" if batch else ""
        top = a.results[0] if a.results else None
        if top is None or top.answer is None:
            complete = False
            title = f" (top result: {top.article.title})" if top is not None else ""
            out.write(f"{prefix}no answer{title}\n")
            continue
        meta = ", ".join(x for x in (top.article.date, top.article.source) if x)
        who = f"{top.answer.who}: " if top.answer.who else ""
        out.write(f"{prefix}{who}{' '.join(top.answer.text.split())} — {top.article.title}"
                  f"{f' ({meta})' if meta else ''}\n")
    return complete


def write_article(article: dict, fmt: str, out: TextIO) -> None:
    """`byline show`: one article (as Engine.get_article gives it) in full, as JSON or for reading."""
    if fmt == "json":
        out.write(controls.json_text(json.dumps(article, ensure_ascii=False, indent=2)) + "\n")
        return
    from rich.console import Console
    from rich.text import Text

    article = controls.printable(article)
    console = Console(file=out, highlight=False)
    console.print(Text(article["title"], style="bold"))
    meta = " · ".join(x for x in (article.get("date"), article.get("source"), article.get("author")) if x)
    if meta:
        console.print(Text(meta, style="green"))
    for line in (article.get("url"), article["id"]):
        if line:
            console.print(Text(line, style="dim"))
    console.print()
    for paragraph in article["text"].split("\n\n"):
        console.print(Text(" ".join(paragraph.split())))
        console.print()
