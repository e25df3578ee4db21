"""Storage: SQLModel tables, column types, bulk inserts, state transition tables, the database handle and Alembic
migrations.

May import: clock. Everything else may import it."""
