"""API views, one module per resource; each builds on tickets/api/base.py."""
