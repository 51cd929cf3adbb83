"""The inventory rules: pure functions over frozen records, no I/O."""
