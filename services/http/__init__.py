"""The HTTP service: CloudEvents in, read models out, schemas and the dashboard."""
