"""Explicit input and output serializers, one module per resource (tickets.py, messages.py, ...).

Serializers validate and shape; they never write (no ``create``/``update``): views pass
validated data to services."""
