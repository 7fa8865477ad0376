"""Stories: copies of one story collapsed, similar articles, timelines, date order and recency."""
