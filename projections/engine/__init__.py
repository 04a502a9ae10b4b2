"""The projection engine: reading a stream (pull consumer, batches), applying each batch in one
PostgreSQL transaction with its checkpoint (the runner), partitions of the work among workers, and
replay. It knows no read model: it is given handlers (`projections.models`)."""
