"""The projection engine's own tables: the checkpoint of each consumer, and the provinces seen
on the events stream (one unit of partitioned workers each). The read models' tables, and any
other of the same database, share this `metadata`, which the migrations compare with."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text

metadata = MetaData()

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("consumer", Text, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

stream_provinces = Table(
    "stream_provinces",
    metadata,
    Column("province", Text, primary_key=True, comment="province token of the NATS subjects"),
    Column("first_seq", BigInteger, nullable=False, comment="stream sequence of its first message"),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    comment="Provinces seen on the events stream: each gets its own projection unit (partitioned workers)",
)
