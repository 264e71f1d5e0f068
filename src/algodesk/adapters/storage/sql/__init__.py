"""SQL storage on SQLAlchemy 2 Core: SQLite (WAL) by default, PostgreSQL through psycopg 3."""
