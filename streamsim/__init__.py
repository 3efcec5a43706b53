"""streamsim."""
