"""Admin views: problems (filled in by its own change)."""
