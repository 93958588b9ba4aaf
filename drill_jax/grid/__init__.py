"""Independent tasks (one fold of one row, one detector of a fleet): keys, disk cache, runner."""
