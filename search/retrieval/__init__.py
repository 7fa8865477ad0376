"""The retrievers: open an index generation, then find candidate articles lexically (Whoosh BM25F) and semantically (FAISS)."""
