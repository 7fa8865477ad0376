"""Search filters (source, date range), applied to both retrievers before fusion."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.dates import parse_date


class BadFilter(ValueError):
    """A filter value that cannot be understood."""


@dataclass(frozen=True)
class Filters:
    sources: tuple[str, ...] = field(default_factory=tuple)
    since: str | None = None  # inclusive ISO date
    until: str | None = None  # inclusive ISO date

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
        return bool(self.sources or self.since or self.until)

    def as_dict(self) -> dict:
        return {"source": list(self.sources), "since": self.since, "until": self.until}
