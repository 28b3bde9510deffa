"""Outgoing webhooks: signed JSON POSTs to other systems when tickets, messages and
customers change (docs/webhooks.md)."""
