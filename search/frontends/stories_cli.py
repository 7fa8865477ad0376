"""`byline similar` and `byline timeline`, and the presentation options `byline search` shares
with them (--no-collapse, --sort, --recent, --half-life). Heavy modules load inside commands."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from search.frontends.cli_common import IndexOpt, ModelOpt, fail, index_dir, output_format
from search.ranking.fusion import DEFAULT_FUSION

CollapseOpt = Annotated[bool, typer.Option(
    "--collapse/--no-collapse", help="Show each story once: copies of an article (near-duplicates) are "
    "folded into its best-ranked one and listed as \"+2 copies (...)\".")]
SortOpt = Annotated[str, typer.Option(
    "--sort", help="relevance, or date: the relevant articles (not only the top k), newest first.")]
RecentOpt = Annotated[bool, typer.Option(
    "--recent", help="Boost newer articles in relevance order: scores halve every --half-life days.")]
HalfLifeOpt = Annotated[float, typer.Option("--half-life", metavar="DAYS", help="Half-life of --recent, in days.")]
SourceOpt = Annotated[Optional[list[str]], typer.Option("--source", "-s", help="Only articles from this source (repeatable, any case).")]
SinceOpt = Annotated[Optional[str], typer.Option(metavar="DATE", help="Only articles dated on or after this day (YYYY-MM-DD).")]
UntilOpt = Annotated[Optional[str], typer.Option(metavar="DATE", help="Only articles dated on or before this day (YYYY-MM-DD).")]
ModeOpt = Annotated[str, typer.Option("--mode", "-m", help="hybrid, lexical (BM25, no model) or semantic.")]


def similar(
    article_id: Annotated[str, typer.Argument(metavar="ID", help="An article id, as shown in results.", show_default=False)],
    k: Annotated[int, typer.Option("-k", "--limit", metavar="N", help="Number of articles (stories) to return.", min=1, max=10000)] = 10,
    mode: ModeOpt = "hybrid",
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-o", help="table, json, jsonl, trec or ids (default: table on a terminal, json when piped).", show_default=False)] = None,
    collapse: CollapseOpt = True,
    sort: SortOpt = "relevance",
    recent: RecentOpt = False,
    half_life: HalfLifeOpt = 30.0,
    index: IndexOpt = None,
    model: ModelOpt = None,
) -> None:
    """Articles most like a given one ("more like this"), without its own copies.

    Ranked by the article's meaning (the mean of its passage vectors) and its words (title and
    opening), fused as for a search; the same filters, formats and options as `byline search`.

    [bold]Examples[/bold]

      byline similar 2023-01-26-railway-strike.txt

      byline similar 2023-01-26-railway-strike.txt --sort date --since 2023-01-01

    Exit status: 0 with results, 1 with none, 2 on errors (e.g. an unknown id).
    """
    from index.manifest import IndexProblem
    from search.rendering import output
    from search.engine import BadRequest, Engine, NotFound, SearchRequest

    try:
        fmt = output_format(fmt)
        request = SearchRequest("", k, mode, tuple(source or ()), since, until, DEFAULT_FUSION, collapse, sort,
                                recent, half_life)
        request.checked()
        with Engine(index_dir(index), model) as engine:
            results = engine.similar(article_id, request).results
    except (BadRequest, ValueError, NotFound, IndexProblem) as exc:
        fail(str(exc))
    output.write([output.Answer("similar", f"like {article_id}", results)], fmt, sys.stdout, tag="byline-similar")
    raise typer.Exit(0 if results else 1)


def timeline(
    query: Annotated[str, typer.Argument(help="Question or keywords, as for `byline search`.", show_default=False)],
    mode: ModeOpt = "hybrid",
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    unit: Annotated[str, typer.Option("--by", help="auto, day, week, month or year (auto: from the span of dates).")] = "auto",
    fmt: Annotated[str, typer.Option("--format", "-o", help="chart or json.")] = "chart",
    collapse: CollapseOpt = True,
    index: IndexOpt = None,
    model: ModelOpt = None,
) -> None:
    """Relevant articles per day, week or month, as a bar chart: when a story broke, how long it ran.

    Counts stories (copies collapsed) unless --no-collapse.

    The relevant articles are those scoring at least a share of the best score (0.4 in hybrid
    and lexical modes, 0.7 in semantic mode), as for --sort date.

    [bold]Examples[/bold]

      byline timeline "rail strike"

      byline timeline "interest rates" --by month -o json | jq '.buckets[].count'

    Exit status: 0 with results, 1 with none, 2 on errors.
    """
    from index.manifest import IndexProblem
    from search.engine import BadRequest, Engine, SearchRequest
    from search.rendering.output import spelling_note
    from search.stories import timeline as tl
    from search.stories.view import FETCH_ALL

    if unit not in tl.UNITS:
        fail(f"unknown --by {unit!r}; choose one of {', '.join(tl.UNITS)}")
    if fmt not in ("chart", "json"):
        fail(f"unknown --format {fmt!r}; choose chart or json")
    # Every relevant article, by date, as `byline search --sort date` ranks and floors them.
    request = SearchRequest(query, k=FETCH_ALL, mode=mode, source=tuple(source or ()), since=since,
                            until=until, collapse=collapse, sort="date")
    try:
        with Engine(index_dir(index), model) as engine:
            response = engine.search(request, answers=False)
    except (BadRequest, ValueError, IndexProblem) as exc:
        fail(str(exc))
    if spelling_note(response.extra):
        typer.echo(spelling_note(response.extra), err=True)
    results = response.results
    chart = tl.build(results, unit)
    if fmt == "json":
        from index.controls import json_text

        typer.echo(json_text(json.dumps(tl.as_dict(query, chart), indent=2, ensure_ascii=False)))
    else:
        tl.draw(query, chart, sys.stdout)
    raise typer.Exit(0 if results else 1)
