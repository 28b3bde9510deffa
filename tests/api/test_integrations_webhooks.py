"""Webhooks over the API: administrators only, the secret shown once (and never kept for
replays), If-Match on changes, the delivery log's filters and pages, and test events and
redeliveries reaching a real receiver on 127.0.0.1 that checks the signature."""

from __future__ import annotations

import pytest

from tests.api.conftest import KeyClient, assert_problem
from tests.webhooks.conftest import _webhook_settings, receiver, verify_signature  # noqa: F401 - B's fixtures
from tickets.api.models import IdempotencyRecord
from tickets.webhooks import services
from tickets.webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhooks/endpoints/"
DELIVERIES = "/api/v1/webhooks/deliveries/"


@pytest.fixture
def endpoint(admin_api, receiver):  # noqa: F811 - the imported fixture
    """An endpoint on the receiver, made through the API; the receiver knows its secret."""
    body = {"name": "CRM sync", "url": receiver.url + "/hooks", "events": ["ticket.created"], "allow_private_network": True}
    response = admin_api.post(ENDPOINTS, body)
    assert response.status_code == 201, response.content
    receiver.secret = response.json()["secret"]
    return WebhookEndpoint.objects.get(pk=response.json()["id"])


def _client(make_key, role, scopes=None):
    _key, raw = make_key(role=role, **({"scopes": scopes} if scopes is not None else {}))
    return KeyClient(raw)


def _calls(endpoint_id, delivery_id):
    body = {"name": "Evil", "url": "https://example.com/", "events": ["ticket.created"]}
    reads = [
        ("get", ENDPOINTS, None),
        ("get", f"{ENDPOINTS}{endpoint_id}/", None),
        ("get", DELIVERIES, None),
        ("get", f"{DELIVERIES}{delivery_id}/", None),
    ]
    writes = [
        ("post", ENDPOINTS, body),
        ("patch", f"{ENDPOINTS}{endpoint_id}/", {"name": "Evil"}),
        ("put", f"{ENDPOINTS}{endpoint_id}/", body),
        ("post", f"{ENDPOINTS}{endpoint_id}/rotate-secret/", None),
        ("post", f"{ENDPOINTS}{endpoint_id}/test/", None),
        ("post", f"{ENDPOINTS}{endpoint_id}/enable/", None),
        ("post", f"{DELIVERIES}{delivery_id}/redeliver/", None),
        ("delete", f"{ENDPOINTS}{endpoint_id}/", None),
    ]
    return reads, writes


@pytest.mark.parametrize(
    ("role", "scopes", "reads_allowed"),
    [
        ("manager", None, False),  # every scope asked for, but the role has no webhooks
        ("agent", None, False),
        ("admin", ["tickets:read", "tickets:write"], False),  # the right role, not the scope
        ("admin", ["webhooks:read"], True),  # reads only
    ],
)
def test_who_may_do_what(make_key, endpoint, receiver, django_capture_on_commit_callbacks, role, scopes, reads_allowed):  # noqa: F811 - the imported fixture
    delivery = services.endpoint_send_test(endpoint=endpoint)  # not committed: pending, never sent
    client = _client(make_key, role, scopes)
    reads, writes = _calls(endpoint.pk, delivery.pk)
    for method, path, body in reads:
        response = getattr(client, method)(path, body) if body else getattr(client, method)(path)
        if reads_allowed:
            assert response.status_code == 200, (path, response.content)
        else:
            detail = assert_problem(response, 403, "permission-denied")["detail"]
            assert "webhooks:read" in detail, detail  # a manager's or agent's role holds no webhooks scope
    with django_capture_on_commit_callbacks(execute=True):
        for number, (method, path, body) in enumerate(writes):
            key = {"HTTP_IDEMPOTENCY_KEY": f"refused-{number}"} if method == "post" else {}
            response = getattr(client, method)(path, body, **key) if body else getattr(client, method)(path, **key)
            assert "webhooks:write" in assert_problem(response, 403, "permission-denied")["detail"], path
    endpoint.refresh_from_db()
    assert endpoint.name == "CRM sync" and WebhookEndpoint.objects.count() == 1
    assert receiver.requests == []  # no test event, no redelivery
    assert not IdempotencyRecord.objects.exists()  # refused before the key was claimed


def test_no_credentials_is_401(client):
    assert_problem(client.get(ENDPOINTS), 401)
    assert_problem(client.get("/api/v1/webhooks/deliveries/"), 401)


def test_create_shows_the_secret_once_and_never_keeps_it(admin_api, receiver):  # noqa: F811 - the imported fixture
    body = {"name": "Warehouse", "url": receiver.url + "/in", "events": ["sla.breached", "ticket.created"], "allow_private_network": True}
    response = admin_api.post(ENDPOINTS, body, HTTP_IDEMPOTENCY_KEY="create-warehouse")
    assert response.status_code == 201, response.content
    created = response.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and response["Cache-Control"] == "no-store"
    assert response["Location"] == f"{ENDPOINTS}{created['id']}/"
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secrets["signing"] == secret and endpoint.created_by == admin_api.key.user
    assert created["events"] == ["sla.breached", "ticket.created"] and created["is_active"] is True
    # Never shown again: not by a read, not by a replay, not in the idempotency store.
    again = admin_api.get(f"{ENDPOINTS}{endpoint.pk}/")
    assert "secret" not in again.json() and secret not in again.content.decode()
    assert secret not in admin_api.get(ENDPOINTS).content.decode()
    replay = admin_api.post(ENDPOINTS, body, HTTP_IDEMPOTENCY_KEY="create-warehouse")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == created["id"] and replay.json()["secret"] is None
    assert WebhookEndpoint.objects.count() == 1
    assert secret not in str(list(IdempotencyRecord.objects.values_list("response_body", flat=True)))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "url": "ftp://example.com/", "events": ["ticket.created"]}, "url"),
        ({"name": "x", "url": "http://127.0.0.1:9/", "events": ["ticket.created"]}, "url"),  # private, not allowed
        ({"name": "x", "url": "https://example.com/", "events": ["ticket.exploded"]}, "events.0"),
        ({"name": "x", "url": "https://example.com/", "events": []}, "events"),
        ({"name": " ", "url": "https://example.com/", "events": ["ticket.created"]}, "name"),
        ({"url": "https://example.com/", "events": ["ticket.created"]}, "name"),
    ],
)
def test_create_refuses_bad_input(admin_api, body, field):
    problem = assert_problem(admin_api.post(ENDPOINTS, body), 400, "validation")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert not WebhookEndpoint.objects.exists()


def test_update_with_if_match_pause_and_enable(admin_api, endpoint):
    path = f"{ENDPOINTS}{endpoint.pk}/"
    first = admin_api.get(path)
    etag = first["ETag"]
    changed = admin_api.patch(path, {"name": "CRM", "events": ["ticket.created", "message.created"]}, HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "CRM" and changed.json()["events"] == ["message.created", "ticket.created"]
    assert changed["ETag"] != etag
    # The old ETag no longer matches: 412, nothing changed.
    assert_problem(admin_api.patch(path, {"name": "Stale"}, HTTP_IF_MATCH=etag), 412, "precondition-failed")
    assert_problem(admin_api.delete(path, HTTP_IF_MATCH=etag), 412, "precondition-failed")
    endpoint.refresh_from_db()
    assert endpoint.name == "CRM"
    # Pausing and enabling.
    paused = admin_api.patch(path, {"is_active": False}, HTTP_IF_MATCH=changed["ETag"]).json()
    assert paused["is_active"] is False and paused["disabled_reason"] == "Paused by an administrator."
    enabled = admin_api.post(f"{path}enable/")
    assert enabled.status_code == 200 and enabled.json()["is_active"] is True and enabled.json()["disabled_at"] is None
    # PUT replaces every setting; a bad one is a 400 and changes nothing.
    replaced = admin_api.put(path, {"name": "Whole", "url": endpoint.url, "events": ["sla.breached"], "allow_private_network": True}, format="json")
    assert replaced.status_code == 200 and replaced.json()["events"] == ["sla.breached"]
    assert_problem(admin_api.patch(path, {"url": "http://10.0.0.1/", "allow_private_network": False}), 400, "validation")
    endpoint.refresh_from_db()
    assert endpoint.url.startswith("http://127.0.0.1:") and endpoint.allow_private_network


def test_delete_with_if_match(admin_api, endpoint):
    path = f"{ENDPOINTS}{endpoint.pk}/"
    services.endpoint_send_test(endpoint=endpoint)
    etag = admin_api.get(path)["ETag"]
    assert admin_api.delete(path, HTTP_IF_MATCH=etag).status_code == 204
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert_problem(admin_api.get(path), 404, "not-found")


def test_send_test_event_and_rotate_the_secret(admin_api, endpoint, receiver, django_capture_on_commit_callbacks):  # noqa: F811 - the imported fixture
    path = f"{ENDPOINTS}{endpoint.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"{path}test/")
    assert response.status_code == 201, response.content
    delivery_id = response.json()["id"]
    assert response["Location"] == f"{DELIVERIES}{delivery_id}/"
    assert [e["event"] for e in receiver.events] == ["webhook.test"]  # the receiver checked the signature
    detail = admin_api.get(f"{DELIVERIES}{delivery_id}/").json()
    assert detail["status"] == "succeeded" and detail["last_status_code"] == 200
    assert detail["payload"]["id"] == receiver.events[0]["id"] == detail["delivery_id"]
    assert detail["payload"]["event"] == "webhook.test" and detail["response_excerpt"]

    old_secret = receiver.secret
    rotated = admin_api.post(f"{path}rotate-secret/", HTTP_IDEMPOTENCY_KEY="rotate-1")
    assert rotated.status_code == 200 and rotated["Cache-Control"] == "no-store"
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    assert rotated.json()["endpoint"]["id"] == endpoint.pk
    assert admin_api.post(f"{path}rotate-secret/", HTTP_IDEMPOTENCY_KEY="rotate-1").json()["secret"] is None
    assert new_secret not in str(list(IdempotencyRecord.objects.values_list("response_body", flat=True)))
    # A receiver still on the old secret refuses the next event; with the new one it accepts.
    with django_capture_on_commit_callbacks(execute=True):
        refused = admin_api.post(f"{path}test/").json()
    refused = admin_api.get(f"{DELIVERIES}{refused['id']}/").json()
    assert refused["status"] == "given_up" and refused["last_status_code"] == 401
    signed = receiver.requests[-1]
    assert verify_signature(new_secret, signed.headers["parley-signature"], signed.body)
    receiver.secret = new_secret
    with django_capture_on_commit_callbacks(execute=True):
        accepted = admin_api.post(f"{path}test/").json()
    assert admin_api.get(f"{DELIVERIES}{accepted['id']}/").json()["status"] == "succeeded"
    assert len(receiver.events) == 2


def test_redeliver_sends_the_same_delivery_again(admin_api, endpoint, receiver, django_capture_on_commit_callbacks):  # noqa: F811 - the imported fixture
    receiver.fail_next(500)
    with django_capture_on_commit_callbacks(execute=True):
        delivery_id = admin_api.post(f"{ENDPOINTS}{endpoint.pk}/test/").json()["id"]
    assert admin_api.get(f"{DELIVERIES}{delivery_id}/").json()["status"] == "given_up"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"{DELIVERIES}{delivery_id}/redeliver/")
    assert response.status_code == 200, response.content
    assert response.json()["redelivery_count"] == 1
    detail = admin_api.get(f"{DELIVERIES}{delivery_id}/").json()
    assert detail["status"] == "succeeded" and detail["last_status_code"] == 200
    assert [r.headers["parley-delivery"] for r in receiver.requests] == [detail["delivery_id"]] * 2
    assert receiver.events[0]["id"] == detail["delivery_id"]


def test_redelivery_to_a_paused_endpoint_is_a_conflict(admin_api, endpoint, receiver, django_capture_on_commit_callbacks):  # noqa: F811 - the imported fixture
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="ticket.created", body='{"id": "x"}', created_at=endpoint.created_at, status="given_up")
    admin_api.patch(f"{ENDPOINTS}{endpoint.pk}/", {"is_active": False})
    with django_capture_on_commit_callbacks(execute=True):
        problem = assert_problem(admin_api.post(f"{DELIVERIES}{delivery.pk}/redeliver/"), 409, "delivery-not-redeliverable")
    assert "re-enable" in problem["detail"]
    delivery.refresh_from_db()
    assert delivery.status == "given_up" and delivery.redelivery_count == 0 and receiver.requests == []


def test_delivery_log_filters_and_cursor_pages(admin_api, endpoint, receiver, django_assert_max_num_queries):  # noqa: F811 - the imported fixture
    other = admin_api.post(
        ENDPOINTS, {"name": "Other", "url": receiver.url + "/other", "events": ["ticket.created"], "allow_private_network": True}
    ).json()
    mine = [services.endpoint_send_test(endpoint=endpoint).pk for _ in range(5)]  # pending: nothing committed
    theirs = [services.endpoint_send_test(endpoint=WebhookEndpoint.objects.get(pk=other["id"])).pk for _ in range(2)]
    WebhookDelivery.objects.filter(pk=theirs[0]).update(status="given_up")
    seen, url = [], f"{DELIVERIES}?page_size=3"
    while url:
        with django_assert_max_num_queries(8):
            page = admin_api.get(url)
        assert page.status_code == 200, page.content
        body = page.json()
        assert len(body["results"]) <= 3 and body["previous"] is None
        assert all("payload" not in row for row in body["results"])
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(mine + theirs, reverse=True)  # newest first, each once
    with django_assert_max_num_queries(8):
        endpoints = admin_api.get(ENDPOINTS).json()["results"]
    assert [(e["name"], e["open_deliveries"]) for e in endpoints] == [("CRM sync", 5), ("Other", 1)]
    only = admin_api.get(f"{DELIVERIES}?endpoint={other['id']}").json()["results"]
    assert [row["id"] for row in only] == sorted(theirs, reverse=True)
    assert only[0]["endpoint"] == {"id": other["id"], "name": "Other"}
    given_up = admin_api.get(f"{DELIVERIES}?status=given_up&event=webhook.test").json()["results"]
    assert [row["id"] for row in given_up] == [theirs[0]]
    assert admin_api.get(f"{DELIVERIES}?event=ticket.created").json()["results"] == []
    by_id = WebhookDelivery.objects.get(pk=mine[2]).delivery_id
    assert [r["id"] for r in admin_api.get(f"{DELIVERIES}?delivery_id={by_id}").json()["results"]] == [mine[2]]
    for query, field in [("status=nope", "status"), ("event=ticket.exploded", "event"), ("endpoint=abc", "endpoint"), ("cursor=garbage", "cursor"), ("delivery_id=123", "delivery_id")]:
        problem = assert_problem(admin_api.get(f"{DELIVERIES}?{query}"), 400, "validation")
        assert [e["field"] for e in problem["errors"]] == [field], query


def test_unknown_ids_are_404(admin_api):
    for method, path in [
        ("get", f"{ENDPOINTS}999999/"),
        ("patch", f"{ENDPOINTS}999999/"),
        ("post", f"{ENDPOINTS}999999/test/"),
        ("post", f"{ENDPOINTS}999999/rotate-secret/"),
        ("post", f"{ENDPOINTS}999999/enable/"),
        ("delete", f"{ENDPOINTS}999999/"),
        ("get", f"{DELIVERIES}999999/"),
        ("post", f"{DELIVERIES}999999/redeliver/"),
    ]:
        assert_problem(getattr(admin_api, method)(path), 404, "not-found")
