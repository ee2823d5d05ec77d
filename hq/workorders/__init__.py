"""差评 work orders: opened at ingest, handled step by step with deadlines and an audit log."""
