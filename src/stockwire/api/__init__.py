"""The HTTP API: admin routes, health, metrics, and the application factory."""
