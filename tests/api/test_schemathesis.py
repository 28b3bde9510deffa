"""Property-based checks of every /api/v1/ operation against its own OpenAPI schema.

schemathesis generates requests from the live schema (so every resource added under
/api/v1/ is covered as soon as it exists), sends them to the app in-process (WSGI, no
server) with a seeded admin key, and asserts: no 5xx, declared status codes and content
types, and bodies that match the schema. A bounded number of examples per operation keeps
the run under a minute.
"""

from __future__ import annotations

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def seeded(db, settings, email_channel):
    from tests.factories import MessageFactory, TeamFactory, TicketFactory

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    settings.API_THROTTLE_RATE = "1000000/min"
    # Something to find: tickets (one in a private team) with messages.
    team = TeamFactory()
    for i in range(3):
        MessageFactory(ticket=TicketFactory(team=team if i else None, channel=email_channel))
    TicketFactory(team=TeamFactory(is_private=True))


def test_every_api_operation_conforms_to_its_schema(seeded, make_key, wsgi_app):
    _, raw = make_key(role="admin")
    headers = {"Authorization": f"Bearer {raw}"}
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    schema.app = wsgi_app
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1/"):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def check(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations >= 9
    assert not failures, "\n\n".join(failures)
