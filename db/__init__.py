"""PostgreSQL through asyncpg: the append-only event store and its schema migrations."""
