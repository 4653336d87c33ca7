"""Admin views: users (filled in by its own change)."""
