"""Models of hq.holidays."""
