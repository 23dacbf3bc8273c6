"""Built-in protocols."""
