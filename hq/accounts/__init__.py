"""Console users: roles as groups, the stations a chief may see, login and the landing page."""
