"""Read-model queries and the pure rules the HTTP API and reports share."""
