"""Real NATS JetStream and PostgreSQL servers run under one data directory."""
