"""Projection workers: read models in PostgreSQL built from the event stream."""
