"""PostgreSQL + pgvector access: connection, migrations and one repository module per table group."""

from deeplens.db.connection import Database

__all__ = ["Database"]
