"""Output: results as a table, JSON, JSON Lines, TREC run, ids or Atom."""
