"""All SQL lives here: one module per concern, SQLAlchemy Core statements only."""
