"""Models of hq.publish."""
