"""Admin views: settings (filled in by its own change)."""
