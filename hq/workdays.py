"""Working days under the official Chinese calendar (filled in by the work-order rules)."""
