"""The counters HQ knows and what they sent: events, chain heads, problems, quarantine."""
