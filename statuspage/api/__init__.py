"""Token-authenticated machine APIs: the write API (/api/v1) and alert intake webhooks."""
