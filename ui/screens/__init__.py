"""One module per screen; each screen rebuilds its widgets when entered (fresh data, current
text size) and never on a timer, except the away countdown while it is shown."""
