"""Models of hq.wall."""
