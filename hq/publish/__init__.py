"""Site content for the counters and the public results page."""
