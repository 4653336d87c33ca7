"""The public site: status page, incident pages, history."""
