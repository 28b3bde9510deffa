"""The CRM and configuration resources of the REST API, one module per resource
(serializers, filters, examples and views together); routes in ``tickets/api/crm_urls.py``.
API-only reads are in ``selectors.py``, the few writes no workspace page offers yet in
``services.py``."""
