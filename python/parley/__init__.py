"""Parley: a Postgres-centric chat backend built the Supabase way.

The Python side is small: the migration runner, the embedded stack, the
PostgREST-equivalent request path used by tests and workers, and tokens.
"""

__version__ = "0.1.0"
