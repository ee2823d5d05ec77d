"""Models of hq.accounts."""
