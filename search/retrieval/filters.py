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


def with_fields(index, options, query: str):
    """(options, text to rank) for `query` on an open index: its field clauses
    (search/retrieval/fields.py) taken out and added to the options' filters. FieldError for
    an unknown field."""
    from search.retrieval import fields

    fq = fields.split(query)
    return (restrict(options, index, fq.clauses), fq.text) if fq.clauses else (options, query)


def restrict(options, index, clauses):
    """`options` (a SearchOptions) whose filters also allow only what `clauses` allow."""
    from dataclasses import replace

    return replace(options, filters=replace(options.filters, articles=allowed_articles(index, clauses)))


def allowed_articles(index, clauses) -> frozenset[str]:
    """The ids of the articles that a query's field clauses (search/retrieval/fields.py) allow,
    on an open index: metadata from the article store, title/body words from Whoosh."""
    from search.retrieval import fields

    rows = index.store.article_fields()  # (id, date, source, url, author)
    allowed = {row[0] for row in rows}
    by_field: dict[str, list] = {}
    for c in clauses:
        by_field.setdefault((c.name, c.negated), []).append(c.value)
    for (name, negated), values in by_field.items():
        if name in fields.TEXT_FIELDS:
            sets = [_with_words(index, name, v) for v in values]
            matched = set.union(*sets) if negated else set.intersection(*sets)
        else:
            matched = {row[0] for row in rows if any(_meta_matches(name, v, row) for v in values)}
        allowed = allowed - matched if negated else allowed & matched
    return frozenset(allowed)


def _meta_matches(name: str, value: str, row) -> bool:
    from search.retrieval import fields

    _, date, source, url, author = row
    if name == "source":
        return (source or "").lower() == value.lower()
    if name == "date":
        low, high = fields.date_range(value)
        return bool(date) and (low is None or date >= low) and (high is None or date <= high)
    held = url if name == "url" else author
    return value.lower() in (held or "").lower()


def _with_words(index, fieldname: str, value: str) -> set[str]:
    """Articles whose title (or body) holds every analysed word of `value`."""
    from whoosh import query as wq

    from search.retrieval.lexical import analyse

    words = sorted(analyse(value))
    if not words:
        return set(r[0] for r in index.store.article_fields())
    if index.milvus is not None:  # no Whoosh index to ask: read the articles
        texts = index.store.article_texts([r[0] for r in index.store.article_fields()], with_titles=True)
        part = 0 if fieldname == "title" else 1
        return {a for a, t in texts.items() if set(words) <= analyse(t[part])}
    q = wq.And([wq.Term(fieldname, w) for w in words])
    whole = index.article_lexical
    if whole is not None:
        with whole.searcher() as s:
            return {s.stored_fields(d)["article_id"] for d in s.docs_for_query(q)}
    with index.lexical.searcher() as s:
        chunk_ids = [s.stored_fields(d)["chunk_id"] for d in s.docs_for_query(q)]
    return {row.article_id for row in index.store.chunks(chunk_ids).values()}
