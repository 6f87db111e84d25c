"""Saved searches (alerts): stored as percolator queries, matched against articles as they are indexed."""
