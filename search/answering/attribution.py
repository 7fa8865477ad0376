"""Name who said or did what in a sentence: the capitalised name span nearest an attribution verb.

"US Secretary of State Antony Blinken said Thursday that ..." -> "US Secretary of State Antony
Blinken"; "..., said Sung Kim" -> "Sung Kim". Without a named speaker in the sentence, a
headline of the form "..., Secretary of State says" names one. Rules only, no model.
"""

from __future__ import annotations

import re

VERBS = r"said|says|told|tells|proposed|proposes|announced|added|urged|warned|argued|insisted|stressed|" \
        r"claimed|admitted|revealed|called for|calls for|offered|suggested|declared|confirmed|denied"
_VERB = re.compile(rf"\b({VERBS})\b")
_INVERTED = {"said", "says", "added", "insisted", "warned", "argued", "declared"}  # '..., said Sung Kim'
_TOKEN = re.compile(r"[\w'’.-]+")
_CONNECTORS = {"of", "de", "del", "da", "van", "von", "al", "bin", "du", "la", "le", "for", "and"}
# Capitalised words that open sentences or clauses without naming anyone.
_COMMON = set("""the a an in on at but and however it he she they we this that these those there
speaking after before when while as if his her its their our his meanwhile last next on
earlier later also yet so then now mr mrs ms dr""".split())
_NEAR = 40  # characters between a name's end and the verb (room for ", the party leader,")


def spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of capitalised name spans: capitalised words, possibly joined by "of", "de"..."""
    out: list[tuple[int, int]] = []
    run: list[re.Match] = []

    def close():
        while run and run[-1].group().lower() in _CONNECTORS:
            run.pop()
        while run and run[0].group().lower() in _COMMON | _CONNECTORS:
            run.pop(0)
        if run:
            end = run[-1].end()
            if text[end - 1] == "." and "." not in run[-1].group()[:-1]:  # a full stop, not "U.S."
                end -= 1
            out.append((run[0].start(), end))
        run.clear()

    for m in _TOKEN.finditer(text):
        word = m.group()
        gap = text[run[-1].end():m.start()] if run else " "
        if run and gap.strip():  # punctuation between words ends a name
            close()
        if word[:1].isupper():
            run.append(m)
            if word.endswith(("'s", "’s")):  # a possessive ends the name ("Washington's top diplomat")
                close()
        elif run and word in _CONNECTORS:
            run.append(m)
        else:
            close()
    close()
    return [(s, e) for s, e in out if not text[s:e].endswith(("'s", "’s"))]


def name_in(text: str, title: str | None = None) -> str | None:
    """The speaker or actor of `text` (or of a "... X says" title), or None."""
    names = spans(text)
    verbs = [m for m in _VERB.finditer(text)]
    best: tuple[int, str] | None = None
    for verb in verbs:
        for start, end in names:
            gap = text[end:verb.start()]
            if end <= verb.start() and len(gap) <= _NEAR and (not gap.strip() or gap.lstrip().startswith(",")):
                distance = len(gap)  # "Blinken said", "Tony Blair, the Labour leader, told"
            elif start >= verb.end() and start - verb.end() <= 2 \
                    and verb.group() in _INVERTED and re.search(r"[,\"”']\s*$", text[:verb.start()]):
                distance = start - verb.end()
            else:
                continue
            if best is None or distance < best[0]:
                best = (distance, text[start:end])
    if best:
        return best[1]
    if title:
        m = re.search(r"[,:]\s*([^,:]+?)\s+(says|said|tells|warns|urges)\b", title)
        if m:
            return m.group(1).strip()
    return None
