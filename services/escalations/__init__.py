"""Escalations: what may escalate (causes, reports owed), computed from the read models, the
escalation service that decides on them with the policy (`schemas.escalation_policy`) and
publishes its decisions, and their delivery to the agencies concerned.

The rules themselves are in the pure layer: working days (`schemas.working_days`), the difficulty
lifecycle (`schemas.difficulty_lifecycle`) and escalation policies (`schemas.escalation_policy`).
"""
