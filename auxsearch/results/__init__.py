"""Results: a run's trials read back into ranked tables, CSVs and plots."""
