"""Find the query's words in a passage and cut a readable snippet around them."""

from __future__ import annotations


def spans(passage: str, terms: set[str]) -> list[tuple[int, int]]:
    """Character spans of the words in `passage` whose analysed form is one of `terms`."""
    if not terms:
        return []
    from index.lexical import analyzer  # Whoosh: not for snippets of results a server sent

    return [(t.startchar, t.endchar) for t in analyzer()(passage, chars=True) if t.text in terms]


def snippet(passage: str, marks: list[tuple[int, int]], width: int = 320) -> tuple[str, list[tuple[int, int]]]:
    """A window of about `width` characters holding the most highlighted words, and its spans."""
    if len(passage) <= width:
        return passage, marks
    best_start, best_count = 0, -1
    for start, _ in marks or [(0, 0)]:
        begin = max(0, start - width // 4)
        count = sum(1 for s, e in marks if begin <= s and e <= begin + width)
        if count > best_count:
            best_start, best_count = begin, count
    begin = passage.rfind(" ", 0, best_start) + 1 if best_start else 0
    end = min(len(passage), begin + width)
    if end < len(passage):
        end = passage.rfind(" ", begin, end) if passage.rfind(" ", begin, end) > begin else end
    text = passage[begin:end]
    prefix = "… " if begin else ""
    suffix = " …" if end < len(passage) else ""
    shift = len(prefix) - begin
    inside = [(s + shift, e + shift) for s, e in marks if s >= begin and e <= end]
    return prefix + text + suffix, inside
