"""Escalations: Vietnamese working-day arithmetic, the difficulty lifecycle and escalation policies.

Every module here is pure: no I/O, no broker, no database. Handlers feed them events and the
current time and persist what they decide.
"""
