"""Real local stand-ins for outside services (SendGrid), shared by tests and benchmarks."""
