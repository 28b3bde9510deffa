"""The API's integration resources: outgoing webhooks (``webhooks.py``) and the managers'
metrics (``metrics.py``), routed by ``tickets/api/integrations_urls.py``."""
