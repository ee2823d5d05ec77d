"""Models of hq.reports."""
