"""Services: the embedded runtime, the event store and publisher, HTTP and the CLI."""
