"""Inbound webhooks: verify, validate, and apply channel events exactly once."""
