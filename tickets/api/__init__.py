"""Parley's REST API (/api/v1/), built on Django REST framework.

The framework every resource builds on, one module per concern (each module's docstring
says how to use it):

- ``scopes.py``          resources x (read, write); what each role may do
- ``models.py``          ``ApiKey`` (hashed, scoped, acting as a user), ``IdempotencyRecord``
- ``keys.py``            create / revoke / authenticate keys (services and selector)
- ``authentication.py``  ``Authorization: Bearer prl_...`` and the browser session
- ``permissions.py``     ``HasScope``: a view declares ``api_resource = "tickets"``
- ``problems.py``        RFC 9457 problem details for every error under /api/
- ``pagination.py``      cursor pages (50 by default, at most 200), stable ordering
- ``throttling.py``      requests per key / user on the default cache
- ``idempotency.py``     ``Idempotency-Key`` on POST
- ``etag.py``            ``ETag`` on GET of one object, ``If-Match`` on PATCH/PUT/DELETE
- ``schema.py``          drf-spectacular: bearer auth, problem responses, examples
- ``base.py``            the base classes a resource's views subclass (start here)

- ``services.py``        writes composed of several tickets services (a ticket created by API)
- ``tasks.py``           pruning expired idempotency records (beat, hourly)

Resources: tickets and their messages in ``views/`` + ``serializers/`` (routes in
``urls.py``); the CRM and configuration resources in ``crm/`` (routes in ``crm_urls.py``).
A new resource: a view built on ``base.ApiViewSet`` with ``api_resource`` (a name from
``scopes.RESOURCES``) and ``visible``, explicit serializers, ``examples=`` on every
operation, a route, then ``make schema`` (docs/openapi.yaml is checked by a test).
Keys are managed at /manage/api-keys/ (``manage_views.py``) and by
``manage.py create_api_key``.
"""
