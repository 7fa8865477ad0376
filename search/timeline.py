"""When a story ran: the relevant articles of a query counted per day, week or month.

The unit is chosen from the span of the articles' dates (a day up to two months, a week up to
two years, else a month); every period between the first and the last is listed, empty or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TextIO

from search.ranker import Result

UNITS = ("auto", "day", "week", "month")


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
    return d.replace(day=1)


def _next(d: date, unit: str) -> date:
    if unit == "day":
        return d + timedelta(days=1)
    if unit == "week":
        return d + timedelta(days=7)
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _label(d: date, unit: str) -> str:
    if unit == "month":
        return d.strftime("%Y-%m")
    if unit == "week":
        return f"{d.isoformat()} (week {d.isocalendar()[1]})"
    return d.isoformat()


def choose_unit(first: date, last: date) -> str:
    span = (last - first).days
    return "day" if span <= 62 else "week" if span <= 730 else "month"


def build(results: list[Result], unit: str = "auto") -> Timeline:
    """Count results per period."""
    dated: list[tuple[date, str]] = []
    undated = []
    for r in results:
        try:
            dated.append((date.fromisoformat((r.article.date or "")[:10]), r.article.id))
        except ValueError:
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


def draw(query: str, timeline: Timeline, out: TextIO, width: int = 40) -> None:
    """A horizontal bar chart, one row per period."""
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
    for b in timeline.buckets:
        n = len(b.ids)
        bar = "█" * max(1, round(n / top * width)) if n else ""
        table.add_row(b.label, Text(bar, style="magenta"), str(n))
    console.print(table)
    if timeline.undated:
        console.print(Text(f"{len(timeline.undated)} undated", style="dim"))
