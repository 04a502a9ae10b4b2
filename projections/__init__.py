"""Projections: read models in PostgreSQL built from the event stream, in two parts: the engine
that reads the stream and applies it (`projections.engine`), and the read models
(`projections.models`). They import the pure layer (`schemas`) and libraries only; the entrypoints
in `services` give them their database engine, NATS connection, settings and signing key."""
