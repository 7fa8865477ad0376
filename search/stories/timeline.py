"""When a story ran: the relevant articles of a query counted per day, week or month.

The unit is chosen from the span of the articles' dates (a day up to a month, a week up to half
a year, a month up to five years, else a year), so a chart has at most about 60 rows; every
period between the first and the last is listed, empty or not (a chart draws a long run of
empty ones as one line). A story (a result with collapsed copies) counts once, on the date of
its earliest article: when it broke.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TextIO

from search.ranking.ranker import Result

UNITS = ("auto", "day", "week", "month", "year")


@dataclass
class Bucket:
    start: str  # ISO date of the period's first day
    label: str
    ids: list[str] = field(default_factory=list)


@dataclass
class Timeline:
    unit: str
    buckets: list[Bucket]
    undated: list[str]


def _start(d: date, unit: str) -> date:
    if unit == "day":
        return d
    if unit == "week":
        return d - timedelta(days=d.weekday())  # Monday
    if unit == "year":
        return d.replace(month=1, day=1)
    return d.replace(day=1)


def _next(d: date, unit: str) -> date:
    if unit == "day":
        return d + timedelta(days=1)
    if unit == "week":
        return d + timedelta(days=7)
    if unit == "year":
        return d.replace(year=d.year + 1)
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _label(d: date, unit: str) -> str:
    if unit == "year":
        return str(d.year)
    if unit == "month":
        return d.strftime("%Y-%m")
    if unit == "week":
        return f"{d.isoformat()} (week {d.isocalendar()[1]})"
    return d.isoformat()


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def choose_unit(first: date, last: date) -> str:
    span = (last - first).days
    return "day" if span <= 31 else "week" if span <= 183 else "month" if span <= 5 * 366 else "year"


def build(results: list[Result], unit: str = "auto") -> Timeline:
    """Count results per period."""
    dated: list[tuple[date, str]] = []
    undated = []
    for r in results:
        days = [_day(a.date) for a in (r.article, *r.duplicates)]
        days = [d for d in days if d]
        if days:
            dated.append((min(days), r.article.id))
        else:
            undated.append(r.article.id)
    if not dated:
        return Timeline(unit if unit != "auto" else "day", [], undated)
    first, last = min(d for d, _ in dated), max(d for d, _ in dated)
    unit = choose_unit(first, last) if unit == "auto" else unit
    buckets: dict[date, Bucket] = {}
    cursor = _start(first, unit)
    while cursor <= last:
        buckets[cursor] = Bucket(cursor.isoformat(), _label(cursor, unit))
        cursor = _next(cursor, unit)
    for d, article_id in sorted(dated):
        buckets[_start(d, unit)].ids.append(article_id)
    return Timeline(unit, list(buckets.values()), undated)


def as_dict(query: str, timeline: Timeline) -> dict:
    return {"query": query, "unit": timeline.unit, "total": sum(len(b.ids) for b in timeline.buckets),
            "buckets": [{"start": b.start, "label": b.label, "count": len(b.ids), "ids": b.ids}
                        for b in timeline.buckets],
            "undated": timeline.undated}


EMPTY_RUN = 3  # this many empty periods in a row or more are drawn as one line


def _compressed(buckets: list[Bucket]) -> list[Bucket | int]:
    """The buckets, with each run of at least EMPTY_RUN empty ones replaced by its length."""
    rows: list[Bucket | int] = []
    run: list[Bucket] = []
    for b in [*buckets, None]:
        if b is not None and not b.ids:
            run.append(b)
            continue
        rows.extend([len(run)] if len(run) >= EMPTY_RUN else run)
        run = []
        if b is not None:
            rows.append(b)
    return rows


def draw(query: str, timeline: Timeline, out: TextIO, width: int = 40) -> None:
    """A horizontal bar chart, one row per period; long runs of empty periods take one line."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=False)
    total = sum(len(b.ids) for b in timeline.buckets)
    console.print(Text(f"{query}: {total} relevant articles by {timeline.unit}", style="bold cyan"))
    top = max((len(b.ids) for b in timeline.buckets), default=0) or 1
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(justify="left", no_wrap=True, style="green")
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for row in _compressed(timeline.buckets):
        if isinstance(row, int):
            table.add_row(Text(f"  … {row} empty {timeline.unit}s", style="dim"), "", "")
            continue
        n = len(row.ids)
        bar = "█" * max(1, round(n / top * width)) if n else ""
        table.add_row(row.label, Text(bar, style="magenta"), str(n))
    console.print(table)
    if timeline.undated:
        console.print(Text(f"{len(timeline.undated)} undated", style="dim"))
