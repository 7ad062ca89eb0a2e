"""SQLite persistence (sqlite-utils for schema and queries). Holds no business rules."""
