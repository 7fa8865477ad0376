"""The caps on one input file: how many bytes a file of each kind may have, how many HTML elements a
page and how many characters an article, and the message a file over a cap is skipped with. The
readers look these up as `limits.NAME` when they run, so a test can lower a cap for one run."""

MAX_FEED_BYTES = 256 * 1024 * 1024  # a feed file is parsed whole
# One article is never this long; a bigger .txt/.md/.html file is a log or a dump, not news.
# The limit also bounds each JSON Lines record.
MAX_ARTICLE_BYTES = 10 * 1024 * 1024
# Caps measured with scripts/research/measure_inputs.py (docs/performance.md): html.parser takes ~55 us and
# ~1.2 KB per element (50,000: 2.6 s, 83 MB; the 900,000 <p> of a 8.6 MB page: 43 s, 1 GB); an
# article's text is embedded at ~68 passages/s, ~750 characters a passage, so 200,000 characters
# (8x the longest BBC article) take ~4 s where a 9.9 MB text file took 10,500 passages.
MAX_HTML_ELEMENTS = 50_000
MAX_ARTICLE_CHARS = 200_000
# A .json or .csv file is read whole before its records are parsed; bigger feeds belong in JSON
# Lines, which is read a line at a time.
MAX_RECORD_FILE_BYTES = 1024 * 1024 * 1024


def _too_large(size_text: str, limit: int, what: str) -> str:
    return f"too large for {what} ({size_text}; the limit is {limit // 2**20} MB)"
