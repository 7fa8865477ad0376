"""The read side of byline: lexical and semantic retrieval, the hybrid ranker, output and the CLI."""
