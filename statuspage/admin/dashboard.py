"""Admin views: dashboard (filled in by its own change)."""
