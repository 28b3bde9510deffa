"""The webhook pages: administrators only; the secret shown once; test events, the
delivery log with filters, redelivery and re-enabling."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import AgentFactory, UserFactory
from tickets.webhooks import services
from tickets.webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def _client(role):
    client = Client()
    if role == "customer":
        client.force_login(UserFactory(is_staff=False))
    elif role is not None:
        client.force_login(AgentFactory(role=role).user)
    return client


@pytest.fixture
def sent(make_endpoint, receiver, django_capture_on_commit_callbacks):
    """An endpoint with one delivered test event."""
    endpoint = make_endpoint(events=["ticket.created", "message.created"])
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.endpoint_send_test(endpoint=endpoint)
    return endpoint, delivery


@pytest.mark.parametrize("role", ["manager", "agent", "customer", None])
def test_only_admins_reach_the_pages(db, sent, role, django_capture_on_commit_callbacks, receiver):
    endpoint, delivery = sent
    client = _client(role)
    expected = {"manager": 403, "agent": 403, "customer": 404, None: 302}[role]
    pages = [
        "/manage/webhooks/", "/manage/webhooks/new/", f"/manage/webhooks/{endpoint.pk}/",
        "/manage/webhooks/deliveries/", f"/manage/webhooks/deliveries/{delivery.pk}/",
    ]
    for url in pages:
        assert client.get(url).status_code == expected, url
    posts = [
        ("/manage/webhooks/new/", {"name": "Evil", "url": "https://example.com/", "events": ["ticket.created"]}),
        (f"/manage/webhooks/{endpoint.pk}/", {"name": "Evil", "url": "https://example.com/", "events": ["ticket.created"]}),
        (f"/manage/webhooks/{endpoint.pk}/rotate/", {}),
        (f"/manage/webhooks/{endpoint.pk}/test/", {}),
        (f"/manage/webhooks/{endpoint.pk}/enable/", {}),
        (f"/manage/webhooks/{endpoint.pk}/delete/", {}),
        (f"/manage/webhooks/deliveries/{delivery.pk}/redeliver/", {}),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for url, data in posts:
            assert client.post(url, data).status_code == expected, url
    endpoint.refresh_from_db()
    assert endpoint.name == "CRM sync" and WebhookEndpoint.objects.count() == 1
    assert len(receiver.requests) == 1  # no test event, no redelivery


def test_admin_sees_the_pages_and_the_nav_link(admin_client, sent):
    endpoint, delivery = sent
    body = admin_client.get("/manage/webhooks/").content.decode()
    assert 'href="/manage/webhooks/"' in body  # the manage navigation
    assert "CRM sync" in body
    detail = admin_client.get(f"/manage/webhooks/deliveries/{delivery.pk}/").content.decode()
    assert str(delivery.delivery_id) in detail and "webhook.test" in detail


def test_manager_has_no_webhooks_link(db):
    body = _client("manager").get("/manage/teams/").content.decode()
    assert "/manage/webhooks/" not in body


def test_create_shows_the_secret_once(admin_client, receiver, admin_user):
    response = admin_client.post(
        "/manage/webhooks/new/",
        {"name": "Warehouse", "url": receiver.url + "/in", "events": ["ticket.created", "sla.breached"], "allow_private_network": "on"},
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    secret = endpoint.secrets["signing"]
    assert secret in response.content.decode()
    assert endpoint.events == ["sla.breached", "ticket.created"] and endpoint.created_by == admin_user
    page = admin_client.get(f"/manage/webhooks/{endpoint.pk}/").content.decode()
    assert secret not in page
    # Rotating shows the new one once.
    rotated = admin_client.post(f"/manage/webhooks/{endpoint.pk}/rotate/")
    endpoint.refresh_from_db()
    assert endpoint.secrets["signing"] != secret and endpoint.secrets["signing"] in rotated.content.decode()


def test_a_private_url_is_refused_with_a_clear_error(admin_client):
    response = admin_client.post(
        "/manage/webhooks/new/", {"name": "Sneaky", "url": "http://127.0.0.1:8000/admin/", "events": ["ticket.created"]}
    )
    assert response.status_code == 200
    assert "private or reserved address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_edit_pause_and_re_enable(admin_client, sent, receiver):
    endpoint, _ = sent
    data = {"name": "CRM", "url": endpoint.url, "events": ["ticket.created"], "allow_private_network": "on"}
    assert admin_client.post(f"/manage/webhooks/{endpoint.pk}/", data).status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.events, endpoint.is_active) == ("CRM", ["ticket.created"], False)
    page = admin_client.get(f"/manage/webhooks/{endpoint.pk}/").content.decode()
    assert "Paused" in page
    assert admin_client.post(f"/manage/webhooks/{endpoint.pk}/enable/").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_reason == ""


def test_send_test_event_button(admin_client, make_endpoint, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/manage/webhooks/{endpoint.pk}/test/")
    assert receiver.events[0]["event"] == "webhook.test"
    # The button leads to the delivery's page, which shows what the receiver answered.
    page = admin_client.get(response["Location"]).content.decode()
    assert "Succeeded" in page and "HTTP 200" in page and receiver.events[0]["id"] in page


def test_banner_for_an_endpoint_parley_disabled(admin_client, make_endpoint, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint()
    receiver.fail_next(410)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event="ticket.created", body='{"id":"x"}', created_at=endpoint.created_at,
        )
        from tickets.webhooks.tasks import deliver_webhook

        deliver_webhook(delivery.pk)
    body = admin_client.get("/manage/webhooks/").content.decode()
    assert "Parley disabled the webhook" in body and "410 Gone" in body
    admin_client.post(f"/manage/webhooks/{endpoint.pk}/enable/")
    assert "Parley disabled the webhook" not in admin_client.get("/manage/webhooks/").content.decode()


def test_delivery_log_filters_and_redeliver(admin_client, make_endpoint, receiver, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    first = make_endpoint(name="First")
    second = make_endpoint(name="Second", path="/other")
    with django_capture_on_commit_callbacks(execute=True):
        a = services.endpoint_send_test(endpoint=first)
        b = services.endpoint_send_test(endpoint=second)
    receiver.fail_next(500)
    with django_capture_on_commit_callbacks(execute=True):
        c = services.endpoint_send_test(endpoint=second)
    with django_assert_max_num_queries(8):
        page = admin_client.get(f"/manage/webhooks/deliveries/?endpoint={second.pk}").content.decode()
    assert f"/manage/webhooks/deliveries/{b.pk}/" in page and f"/manage/webhooks/deliveries/{c.pk}/" in page
    assert f"/manage/webhooks/deliveries/{a.pk}/" not in page
    page = admin_client.get("/manage/webhooks/deliveries/?status=given_up").content.decode()
    assert f"/deliveries/{c.pk}/" in page and f"/deliveries/{b.pk}/" not in page
    page = admin_client.get(f"/manage/webhooks/deliveries/?delivery={a.delivery_id}").content.decode()
    assert f"/deliveries/{a.pk}/" in page and f"/deliveries/{b.pk}/" not in page
    # Nonsense filters are ignored, not an error.
    assert admin_client.get("/manage/webhooks/deliveries/?endpoint=abc&status=nope").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/manage/webhooks/deliveries/{c.pk}/redeliver/", follow=True)
    assert "Redelivery queued" in response.content.decode()
    c.refresh_from_db()
    assert c.status == "succeeded" and c.redelivery_count == 1
    assert receiver.requests[-1].headers["parley-delivery"] == str(c.delivery_id)


def test_delivery_log_pages_by_keyset(admin_client, make_endpoint, settings):
    from tickets.webhooks import selectors

    endpoint = make_endpoint()
    settings_page = selectors.PAGE_SIZE
    for _ in range(settings_page + 3):
        services.endpoint_send_test(endpoint=endpoint)  # not committed: stays pending, nothing sent
    first = admin_client.get("/manage/webhooks/deliveries/")
    assert first.context["next_query"]
    assert len(first.context["deliveries"]) == settings_page
    second = admin_client.get("/manage/webhooks/deliveries/?" + first.context["next_query"])
    assert len(second.context["deliveries"]) == 3
    assert not second.context["next_query"]


def test_delete_removes_the_endpoint_and_its_log(admin_client, sent):
    endpoint, _ = sent
    assert admin_client.post(f"/manage/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_unknown_ids_are_404(admin_client):
    assert admin_client.get("/manage/webhooks/999/").status_code == 404
    assert admin_client.get("/manage/webhooks/deliveries/999/").status_code == 404
    assert admin_client.post("/manage/webhooks/deliveries/999/redeliver/").status_code == 404
