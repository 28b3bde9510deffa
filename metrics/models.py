"""Metrics models arrive with the metrics issue; the app exists so its place is fixed."""
