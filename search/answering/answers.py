"""Answers: the sentence (or two adjacent ones) of each result's article that best answers the query.

Every sentence of the article is scored (search/answering/features.py computes the signals):
- its meaning: the cosine of its vector, stored at ingest (span-pooled from its passage,
  index/sentences.py), to the query's;
- the query's words in it: their idf-weighted share, stemmed as the lexical index stems them;
- its place: the lead (first sentence) answers news questions often, the second sometimes;
- question cues: a "who" question wants a person or body, "when" a date, "how much/many" a
  number, "where" a place, "why" a reason (rules, no model).
The weights were tuned on bbc_qa_dev and bbc_qa_dev2 (docs/quality.md, "Answers"). The best
sentence is the answer when its evidence (meaning and words, without place and cues) reaches
the threshold, else the article has no answer. A very short sentence, one ending in ":", or one
opening a quote it does not close, is joined with the next; with `join_margin`, so is a
neighbour of about its length scoring close to it (off by default: it measured +2 of 151
answers and joins sentences that add nothing, docs/quality.md). For "who" questions, `who`
names the speaker or actor (search/answering/attribution.py).

Articles indexed before sentence vectors were stored are scored on words, place and cues, and
always answer: words alone cannot tell a paraphrase from a miss (vectors="query" encodes their
sentences at query time instead: seconds a query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from index.chunker import sentence_spans
from search.answering import features
from search.answering import attribution
from search.calibration import DEFAULT

if TYPE_CHECKING:
    import numpy as np

    from search.retrieval.opened import OpenIndex
    from search.ranking.ranker import Result


VECTOR_SOURCES = ("stored", "query", "none")


_TUNED = DEFAULT.answers  # search/calibrations/minilm.json; the engine applies the index's model's own


@dataclass(frozen=True)
class AnswerWeights:
    """How the signals add up; defaults are minilm's tuned ones (search/calibration.py)."""

    semantic: float = _TUNED["semantic"]
    lexical: float = _TUNED["lexical"]
    lead: float = _TUNED["lead"]
    second: float = _TUNED["second"]  # the second sentence (often the lead's detail)
    cue: float = _TUNED["cue"]
    centre: float = _TUNED["centre"]  # share of the article's mean sentence vector removed before the cosine
    threshold: float = _TUNED["threshold"]  # evidence below this: no answer
    join_margin: float = _TUNED["join_margin"]  # join a neighbour of about the same length scoring within this (0: never)


@dataclass
class AnswerSentence:
    """The answer of one result: `text` is exactly the article text from `start` to `end`."""

    text: str
    start: int
    end: int
    score: float
    who: str | None = None  # for "who" questions: the speaker or actor named, when found
    at_end: bool = False  # the answer ends the article

    def as_dict(self) -> dict:
        out = {"text": self.text, "start": self.start, "end": self.end, "score": round(self.score, 4)}
        if self.who:
            out["who"] = self.who
        return out


@dataclass
class Scored:
    """Every sentence of one article with its signals (for choosing and for tuning)."""

    text: str
    title: str
    offsets: np.ndarray  # (n, 2)
    cosine: np.ndarray | None  # (n,), None without sentence vectors
    signals: features.Signals = field(repr=False)


class Answerer:
    """Finds answers in one open index; reuse it for many queries (it caches stems and idf)."""

    def __init__(self, index: OpenIndex, weights: AnswerWeights | None = None, vectors: str = "stored"):
        """`weights`: as given; by default the tuned ones of the index's model (its calibration).
        `vectors`: "stored" (those stored at ingest; articles without them are scored without
        meaning), "query" (every sentence encoded on its own now), "none" (words, place, cues)."""
        if vectors not in VECTOR_SOURCES:
            raise ValueError(f"unknown sentence vectors {vectors!r}; choose one of {', '.join(VECTOR_SOURCES)}")
        self.index = index
        self.weights = weights if weights is not None else index.calibration.answering(AnswerWeights())
        self.vectors = vectors
        self.stems = features.Stemmer()

    @cached_property
    def _idf(self) -> features.Idf:
        return features.Idf(self.index.backend.frequencies())

    def attach(self, query: str, vector, results: list[Result], limit: int | None = None) -> None:
        """Set `answer` on the first `limit` results (all by default): an AnswerSentence, or None
        when the article does not answer."""
        chosen = results if limit is None else results[:limit]
        answers = self.answers(query, vector, [r.article.id for r in chosen], terms=chosen[0].terms if chosen else None)
        for r in chosen:
            r.answer = answers.get(r.article.id)

    def answers(self, query: str, vector, article_ids: list[str],
                terms: set[str] | None = None) -> dict[str, AnswerSentence | None]:
        """The answer of each article (None: no answer). Two queries of the store for all."""
        return {aid: self.choose(query, s) for aid, s in self.score(query, vector, article_ids, terms).items()}

    def score(self, query: str, vector, article_ids: list[str],
              terms: set[str] | None = None) -> dict[str, Scored]:
        """The signals of every sentence of each article."""
        import numpy as np

        store = self.index.store
        rows = store.article_texts(article_ids, with_titles=True)
        texts = {a: text for a, (_, text) in rows.items()}
        titles = {a: title for a, (title, _) in rows.items()}
        if vector is None or self.vectors == "none":
            stored = {}
        elif self.vectors == "query":
            stored = self._encode(texts, [a for a in article_ids if a in texts])
        else:
            stored = self.index.backend.sentence_vectors(article_ids)
        terms = features.query_terms(query) if terms is None else terms
        idf = self._idf.weights(terms)
        question = features.question_kind(query)
        out: dict[str, Scored] = {}
        for aid in article_ids:
            if aid not in texts:
                continue
            text = texts[aid]
            if aid in stored:
                offsets, matrix = stored[aid]
                cosine = features.cosines(matrix, np.asarray(vector, dtype=np.float32), self.weights.centre)
            else:
                offsets, cosine = np.asarray(sentence_spans(text), dtype=np.int32).reshape(-1, 2), None
            signals = features.signals(text, offsets, idf, question, self.stems)
            out[aid] = Scored(text, titles.get(aid, ""), offsets, cosine, signals)
        return out

    def _encode(self, texts: dict[str, str], article_ids: list[str]) -> dict:
        """The articles' sentences encoded now, each on its own (vectors="query")."""
        import numpy as np

        spans = {a: sentence_spans(texts[a]) for a in article_ids}
        flat = [texts[a][s:e] for a in article_ids for s, e in spans[a]]
        if not flat:
            return {}
        matrix = self.index.embedder.encode(flat)
        out, at = {}, 0
        for a in article_ids:
            n = len(spans[a])
            out[a] = (np.asarray(spans[a], dtype=np.int32).reshape(-1, 2), matrix[at:at + n])
            at += n
        return out

    def choose(self, query: str, scored: Scored) -> AnswerSentence | None:
        """The best sentence of an article (joined with the next when one is not enough)."""
        if not len(scored.offsets):
            return None
        w = self.weights
        evidence, total = features.combine(scored.cosine, scored.signals, w)
        best = int(total.argmax())
        # Without sentence vectors the words alone cannot tell that an article does not answer
        # (a paraphrase shares none): answer anyway, as the lead-sentence baseline would.
        if scored.cosine is not None and evidence[best] < w.threshold:
            return None
        start, end = (int(x) for x in scored.offsets[best])
        if best + 1 < len(scored.offsets) and features.needs_next(scored.text[start:end]):
            end = int(scored.offsets[best + 1][1])
        else:
            other = features.join_with(scored.text, scored.offsets, total, best, w.join_margin)
            if other is not None:
                start, end = min(start, int(scored.offsets[other][0])), max(end, int(scored.offsets[other][1]))
        text = scored.text[start:end]
        who = attribution.name_in(text, scored.title) if scored.signals.question == "who" else None
        at_end = not scored.text[end:].strip()
        return AnswerSentence(text, start, end, float(total[best]), who, at_end)
