"""Field clauses of a query (`source:"Harbor Wire" oil`, `author:smith`, `date:[2005-01-01 TO
2005-03-31]`): taken out of the query text and turned into the set of articles they allow, so
they filter in every mode (the semantic retriever cannot read them, and Whoosh's index has no
author or url field).

`title:` and `body:` filter by the analysed words (every word of the value, in that part of the
article) and their words are also searched; `source:` is the source's name (any case, as
`--source`); `author:` and `url:` match a part of the value (any case); `date:` is a day, a month
(2005-03), a year or a range `[FROM TO UNTIL]` (either end may be left out). Repeating a field
allows any of its values (`source:a source:b`), except title and body, where all must hold;
`NOT field:value` or `-field:value` excludes. Any other `name:` is an error naming the fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.dates import parse_date

FIELDS = ("title", "body", "source", "author", "date", "url")
TEXT_FIELDS = ("title", "body")
# A phrase (skipped: "a:b" inside quotes is text), or NOT/-, a name, ':' and a value that is a
# phrase, a range or a word. "10:30" (a name must start with a letter) and "https://..." are text.
_CLAUSE = re.compile(
    r'(?P<phrase>"[^"]*")'
    r'|(?:(?P<neg>(?<!\S)(?:NOT\s+|-))|(?<![\w:/.-]))(?P<name>[A-Za-z_]\w*):(?!//)'
    r'(?P<value>"[^"]*"|[\[{][^\]}]*[\]}]|[^\s()"]+)')


class FieldError(ValueError):
    """A field clause the user must fix; the message says what is wrong."""


@dataclass(frozen=True)
class Clause:
    name: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class FieldQuery:
    """A query split into the words to search for and its field clauses."""

    text: str  # what is ranked: the free text and the words of title:/body: clauses
    clauses: tuple[Clause, ...] = ()
    only_fields: bool = False  # nothing to search for but the clauses


def split(query: str) -> FieldQuery:
    """The query's field clauses taken out of it; FieldError for an unknown field."""
    clauses: list[Clause] = []
    kept: list[str] = []
    words: list[str] = []
    last = 0
    for m in _CLAUSE.finditer(query):
        if m.group("phrase") is not None:
            continue
        name = m.group("name").lower()
        if name not in FIELDS:
            raise FieldError(f"unknown field {m.group('name')!r} in the query; the fields are "
                             f"{', '.join(FIELDS)} (e.g. source:\"Harbor Wire\" oil)")
        value = m.group("value")
        if value.startswith('"'):
            value = value[1:-1]
        value = value.strip()
        if not value:
            raise FieldError(f"field {name}: has no value")
        negated = m.group("neg") is not None
        clauses.append(Clause(name, value, negated))
        if name in TEXT_FIELDS and not negated:
            words.append(value)
        kept.append(query[last:m.start()])
        last = m.end()
    if not clauses:
        return FieldQuery(query)
    kept.append(query[last:])
    rest = " ".join(" ".join(kept).split())
    text = " ".join([rest] + words).strip() if rest or words else ""
    only = not rest and not words
    if only:  # e.g. `source:"Harbor Wire"`: rank the allowed articles by the values themselves
        text = " ".join(c.value for c in clauses if not c.negated and c.name != "date") or "news"
    return FieldQuery(text, tuple(clauses), only)


def date_range(value: str) -> tuple[str | None, str | None]:
    """(first day, last day) of a date:, a month, a year or a range; FieldError otherwise."""
    v = value.strip()
    if v[:1] in "[{" and v[-1:] in "]}":
        parts = re.split(r"\s+TO\s+|\s+to\s+", " " + v[1:-1].strip() + " ")
        if len(parts) != 2:
            raise FieldError(f"date:{value}: write a range as [2005-01-01 TO 2005-03-31]")
        low, high = (p.strip() for p in parts)
        return (date_range(low)[0] if low else None), (date_range(high)[1] if high else None)
    if re.fullmatch(r"\d{4}", v):
        return f"{v}-01-01", f"{v}-12-31"
    if re.fullmatch(r"\d{4}-\d{2}", v):
        return f"{v}-01", f"{v}-31"  # ISO strings compare: every day of the month is within
    parsed = parse_date(v)
    if parsed is None:
        raise FieldError(f"date:{value} is not a date; use YYYY-MM-DD, YYYY-MM, YYYY or [FROM TO UNTIL]")
    return parsed, parsed


def with_fields(index, options, query: str):
    """(options, text to rank) for `query` on an open index: its field clauses
    taken out and added to the options' filters. FieldError for
    an unknown field."""
    fq = split(query)
    return (restrict(options, index, fq.clauses), fq.text) if fq.clauses else (options, query)


def restrict(options, index, clauses):
    """`options` (a SearchOptions) whose filters also allow only what `clauses` allow."""
    from dataclasses import replace

    return replace(options, filters=replace(options.filters, articles=allowed_articles(index, clauses)))


def allowed_articles(index, clauses) -> frozenset[str]:
    """The ids of the articles that a query's field clauses (above) allow,
    on an open index: metadata from the article store, title/body words from Whoosh."""
    rows = index.store.article_fields()  # (id, date, source, url, author)
    allowed = {row[0] for row in rows}
    by_field: dict[str, list] = {}
    for c in clauses:
        by_field.setdefault((c.name, c.negated), []).append(c.value)
    for (name, negated), values in by_field.items():
        if name in TEXT_FIELDS:
            sets = [_with_words(index, name, v) for v in values]
            matched = set.union(*sets) if negated else set.intersection(*sets)
        else:
            matched = {row[0] for row in rows if any(_meta_matches(name, v, row) for v in values)}
        allowed = allowed - matched if negated else allowed & matched
    return frozenset(allowed)


def _meta_matches(name: str, value: str, row) -> bool:
    _, date, source, url, author = row
    if name == "source":
        return (source or "").lower() == value.lower()
    if name == "date":
        low, high = date_range(value)
        return bool(date) and (low is None or date >= low) and (high is None or date <= high)
    held = url if name == "url" else author
    return value.lower() in (held or "").lower()


def _with_words(index, fieldname: str, value: str) -> set[str]:
    """Articles whose title (or body) holds every analysed word of `value`."""
    from search.retrieval.lexical import analyse

    words = sorted(analyse(value))
    if not words:
        return set(r[0] for r in index.store.article_fields())
    return index.backend.articles_with_words(fieldname, words)
