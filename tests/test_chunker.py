"""Chunking: passages fit the model window (real tokenizer), follow sentences and overlap."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from index.chunker import ChunkingParams, approximate_tokens, chunk_article, split_sentences
from index.documents import Article


def test_sentence_split_handles_abbreviations_and_paragraphs():
    text = "Mr. Kim met U.S. officials on Jan. 10. They talked.\n\nA new paragraph! Is it? Yes."
    assert split_sentences(text) == [
        "Mr. Kim met U.S. officials on Jan. 10.", "They talked.", "A new paragraph!", "Is it?", "Yes."]


def test_chunks_fit_budget_with_title_and_overlap_one_sentence(embedder):
    sentences = [f"Sentence number {i} tells of sanctions, missiles and diplomacy in the region." for i in range(60)]
    article = Article(id="a", title="A long title about North Korea talks", text=" ".join(sentences))
    params = ChunkingParams(max_tokens=120, overlap_sentences=1)
    chunks = chunk_article(article, params, embedder.count_tokens)
    assert len(chunks) > 3
    for chunk in chunks:
        assert embedder.count_tokens(chunk.embedding_text()) <= params.max_tokens
        assert chunk.title == article.title
    for before, after in zip(chunks, chunks[1:]):
        last_sentence = split_sentences(before.text)[-1]
        assert after.text.startswith(last_sentence)
    covered = " ".join(c.text for c in chunks)
    assert all(s in covered for s in sentences)


def test_long_sentence_without_punctuation_is_cut_to_fit(embedder):
    article = Article(id="a", title="T", text=" ".join(["word"] * 2000))
    chunks = chunk_article(article, ChunkingParams(max_tokens=100), embedder.count_tokens)
    assert all(embedder.count_tokens(c.embedding_text()) <= 100 for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) == 2000


def test_empty_body_gives_one_title_chunk():
    chunks = chunk_article(Article(id="a", title="Only a headline", text=""))
    assert [c.text for c in chunks] == ["Only a headline"]


words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=12)


@settings(max_examples=150, deadline=None)
@given(paragraphs=st.lists(st.lists(words, max_size=80).map(" ".join), max_size=8),
       max_tokens=st.integers(40, 300), overlap=st.integers(0, 2))
def test_chunker_properties(paragraphs, max_tokens, overlap):
    text = "\n\n".join(paragraphs)
    article = Article(id="x", title="Title", text=text)
    chunks = chunk_article(article, ChunkingParams(max_tokens, overlap), approximate_tokens)
    assert chunks, "every article yields at least one chunk"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    budget = max(32, max_tokens - approximate_tokens("Title"))
    for c in chunks:
        assert c.text.strip()
        # A single word longer than the budget is the only thing allowed to exceed it.
        assert approximate_tokens(c.text) <= budget or len(c.text.split()) == 1
    # No word of the article is lost.
    chunk_words = set(" ".join(c.text for c in chunks).split())
    assert set(text.split()) <= chunk_words or not text.split()
