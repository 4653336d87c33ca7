"""Users, account roles and their permissions, login."""
