"""HQ: the store the collector writes, the console that reads it, and their Django setup.

Nothing on the counter imports this package (pyproject's import contracts). The store and
the console share one schema, defined by the Django models of the apps below and created
by their migrations on SQLite and PostgreSQL alike.
"""
