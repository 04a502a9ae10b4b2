"""Event models, the CloudEvents envelope and JSON Schema export.

This package depends on pydantic and the standard library only: it knows nothing of NATS or SQL.
"""
