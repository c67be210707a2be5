"""The store: one DuckDB file, its schema and migrations, runs, and loading records into it."""
