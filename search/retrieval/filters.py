"""Search filters (source, date range, and the articles a query's field clauses allow),
applied to both retrievers before fusion."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from index.dates import parse_date


class BadFilter(ValueError):
    """A filter value that cannot be understood."""


@dataclass(frozen=True)
class Filters:
    sources: tuple[str, ...] = field(default_factory=tuple)
    since: str | None = None  # inclusive ISO date
    until: str | None = None  # inclusive ISO date
    articles: frozenset[str] | None = None  # the ids a query's field clauses allow (None: any)

    @classmethod
    def build(cls, sources: list[str] | None = None, since: str | None = None, until: str | None = None) -> Filters:
        """Validate user input: dates may be written in any form `parse_date` understands."""
        def as_date(value: str | None, flag: str) -> str | None:
            if value is None:
                return None
            parsed = parse_date(value)
            if parsed is None:
                raise BadFilter(f"{flag} {value!r} is not a date; use YYYY-MM-DD")
            return parsed

        since_d, until_d = as_date(since, "--since"), as_date(until, "--until")
        if since_d and until_d and since_d > until_d:
            raise BadFilter(f"--since {since_d} is after --until {until_d}")
        return cls(tuple(s.strip() for s in sources or () if s.strip()), since_d, until_d)

    @property
    def active(self) -> bool:
        return bool(self.sources or self.since or self.until) or self.articles is not None

    def as_dict(self) -> dict:
        return {"source": list(self.sources), "since": self.since, "until": self.until}


def check_sources(requested, known) -> None:
    """BadFilter naming a requested source no article in the index has, with the closest
    names it does have; `known` are the index's source names."""
    by_case = {k.lower(): k for k in known}
    for name in requested:
        if name.strip() and name.strip().lower() not in by_case:
            close = difflib.get_close_matches(name.strip().lower(), list(by_case), n=3, cutoff=0.6)
            hint = (f"; did you mean {' or '.join(repr(by_case[c]) for c in close)}?" if close else
                    f" (sources: {', '.join(sorted(by_case.values())[:10]) or 'none'})")
            raise BadFilter(f"source {name.strip()!r} is not in the index{hint}")
