"""Holiday data HQ enters for years the calendar package does not know yet."""
