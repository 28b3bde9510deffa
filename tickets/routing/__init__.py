"""Routing, assignment, SLA and automations (issue 5): an app of its own, label ``routing``.

The tickets services and the ingestion pipeline call ``tickets.routing.services``; nothing
here is reached through signals.
"""
