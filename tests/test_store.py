"""The article store's disk use: passages (text and vector) are packed, not one to a page."""

from __future__ import annotations

import random

import numpy as np

from index.documents import Article, Chunk
from index.store import ArticleStore


def test_store_size_stays_close_to_the_data(tmp_path):
    rng = random.Random(3)
    words = "the minister said talks would resume next week after the vote in parliament".split()
    store = ArticleStore(tmp_path / "articles.sqlite", generation=1)
    store.begin()
    data = 0
    for a in range(300):
        text = " ".join(rng.choices(words, k=rng.randint(300, 500)))
        article = Article(id=f"a{a}", title=f"Article {a}", text=text)
        chunks = []
        for o in range(3):
            chunk = Chunk(article.id, o, text[o * 700:(o + 1) * 700], article.title, id=a * 3 + o)
            chunk.vector = np.random.default_rng(a * 3 + o).random(384, dtype=np.float32)
            chunks.append(chunk)
            data += len(chunk.text) + chunk.vector.nbytes
        data += len(text)
        store.put_article(article, chunks, content_hash=str(a))
    store.commit()
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    size = (tmp_path / "articles.sqlite").stat().st_size
    # With 4 KB pages each ~2.3 KB passage row took a page of its own: 1.8x the data.
    assert size < 1.25 * data, (size, data)
