"""Backup and restore of a whole system: its JetStream streams (sequences and times kept), its
PostgreSQL schema, and the secrets under the data directory, with a manifest of SHA-256 sums."""


class BackupError(Exception):
    """A backup or restore cannot go on; the message is one line saying why."""
