"""The API framework: keys, scopes, problem details, idempotency, ETag/If-Match, throttling."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.api.conftest import KeyClient, assert_problem
from tests.conftest import full_mode_only
from tests.factories import AgentFactory, TeamFactory, TicketFactory
from tickets.api import keys
from tickets.api.models import ApiKey, IdempotencyRecord

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


# --- Keys and authentication ------------------------------------------------------------


def test_a_key_is_stored_hashed_and_shown_once(make_key):
    key, raw = make_key(scopes=["tickets:read"])
    assert raw.startswith(f"prl_{key.prefix}_")
    row = ApiKey.objects.get(pk=key.pk)
    assert raw not in (row.key_hash, row.prefix, row.name)
    assert len(row.key_hash) == 64 and row.scopes == ["tickets:read"]
    assert KeyClient(raw).get(TICKETS).status_code == 200


def test_missing_credentials_answer_401_with_bearer_challenge():
    response = KeyClient().get(TICKETS)
    assert_problem(response, 401, "not-authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer prl_nope_nope", "Bearer garbage", "Bearer a b"])
def test_invalid_key_answers_401(make_key, header):
    make_key()
    client = KeyClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_problem(client.get(TICKETS), 401)


def test_right_prefix_wrong_secret_answers_401(make_key):
    key, raw = make_key()
    assert_problem(KeyClient(f"prl_{key.prefix}_{'x' * 43}").get(TICKETS), 401, "authentication-failed")


def test_revoked_key_answers_401(make_key):
    key, raw = make_key()
    client = KeyClient(raw)
    assert client.get(TICKETS).status_code == 200
    keys.api_key_revoke(key=key)
    assert_problem(client.get(TICKETS), 401, "authentication-failed")


def test_key_of_deactivated_user_answers_401(make_key):
    key, raw = make_key()
    key.user.is_active = False
    key.user.save()
    assert_problem(KeyClient(raw).get(TICKETS), 401)


def test_last_used_is_recorded_at_most_once_a_minute(make_key):
    key, raw = make_key()
    client = KeyClient(raw)
    client.get(TICKETS)
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    client.get(TICKETS)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timezone.timedelta(minutes=2))
    client.get(TICKETS)
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_keys_refuse_unknown_scopes_and_non_staff(db):
    from tests.factories import UserFactory
    from tickets.api.scopes import UnknownScope

    agent = AgentFactory().user
    with pytest.raises(UnknownScope):
        keys.api_key_create(name="x", user=agent, scopes=["tickets:delete"])
    with pytest.raises(ValueError):
        keys.api_key_create(name="x", user=UserFactory(is_staff=False), scopes=["tickets:read"])


# --- Scopes -----------------------------------------------------------------------------


def test_missing_scope_answers_403_naming_it(make_key):
    key, raw = make_key(scopes=["messages:read"])
    body = assert_problem(KeyClient(raw).get(TICKETS), 403, "permission-denied")
    assert "tickets:read" in body["detail"]


def test_read_scope_cannot_write(make_key):
    key, raw = make_key(scopes=["tickets:read"])
    ticket = TicketFactory()
    client = KeyClient(raw)
    assert client.get(f"{TICKETS}{ticket.number}/").status_code == 200
    assert_problem(client.patch(f"{TICKETS}{ticket.number}/", {"priority": "high"}), 403)


def test_write_scope_implies_read(make_key):
    key, raw = make_key(scopes=["tickets:write"])
    assert KeyClient(raw).get(TICKETS).status_code == 200


def test_a_key_cannot_exceed_its_users_role(make_key):
    # An agent's role has no webhooks scope: the key's grant is narrowed to the role.
    from tickets.api.scopes import effective_scopes

    key, raw = make_key(role="agent", scopes=["webhooks:write", "tickets:read"])
    assert effective_scopes(key.user, key) == {"tickets:read"}


def test_session_users_hold_their_roles_scopes(client):
    agent = AgentFactory(role="agent").user
    client.force_login(agent)
    assert client.get(TICKETS).status_code == 200


def test_session_writes_need_the_csrf_token(db):
    from rest_framework.test import APIClient

    ticket = TicketFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(AgentFactory().user)
    assert_problem(client.patch(f"{TICKETS}{ticket.number}/", {"priority": "high"}, format="json"), 403)


def test_non_staff_session_is_refused(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=False))
    assert_problem(client.get(TICKETS), 403)


# --- Visibility ---------------------------------------------------------------------------


def test_private_team_ticket_is_404_for_outsiders(make_key):
    private = TeamFactory(is_private=True)
    ticket = TicketFactory(team=private)
    outsider = KeyClient(make_key()[1])
    assert_problem(outsider.get(f"{TICKETS}{ticket.number}/"), 404, "not-found")
    assert ticket.number not in [t["number"] for t in outsider.get(TICKETS).json()["results"]]
    member = AgentFactory()
    member.teams.add(private)
    insider = KeyClient(make_key(user=member.user)[1])
    assert insider.get(f"{TICKETS}{ticket.number}/").status_code == 200


# --- Problem details for every error --------------------------------------------------------


def test_unknown_api_path_is_a_404_problem(api_client):
    assert_problem(api_client.get("/api/v1/nothing-here/"), 404, "not-found")
    assert_problem(api_client.get("/api/nowhere"), 404)


def test_post_to_an_unknown_api_path_with_a_session_is_a_404_problem_not_a_csrf_page(db):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(AgentFactory().user)
    assert_problem(client.post("/api/v1/customers/-3/identities/", {}, format="json"), 404)


def test_django_level_404_under_api_is_a_problem(rf):
    from tickets.api.problems import handler404

    response = handler404(rf.get("/api/v1/whatever/"), None)
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert handler404(rf.get("/inbox/x"), None)["Content-Type"].startswith("text/html")


def test_method_not_allowed_is_a_problem(api_client):
    assert_problem(api_client.delete(TICKETS), 405, "method-not-allowed")


def test_unsupported_media_type_is_a_problem(api_client):
    response = api_client.post(TICKETS, "x=1", content_type="text/plain", format=None)
    assert_problem(response, 415, "unsupported-media-type")


def test_malformed_json_is_a_problem(api_client):
    response = api_client.post(TICKETS, "{not json", content_type="application/json", format=None)
    assert_problem(response, 400, "malformed-request")


def test_validation_errors_list_each_field(api_client):
    body = assert_problem(api_client.post(TICKETS, {"customer": {"email": "nope"}}), 400, "validation")
    fields = {e["field"] for e in body["errors"]}
    assert {"customer.email", "message"} <= fields
    assert body["instance"] == TICKETS


def test_an_unexpected_error_is_a_500_problem(api_client, monkeypatch):
    from tickets.api.views import tickets as views

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "visible_ticket_rows", boom)
    monkeypatch.setattr(views.TicketViewSet, "visible", staticmethod(boom))
    body = assert_problem(api_client.get(TICKETS), 500, "server-error")
    assert "secret" not in body["detail"]


# --- Throttling ---------------------------------------------------------------------------


def test_over_the_rate_a_key_gets_429_with_retry_after(make_key, settings):
    settings.API_THROTTLE_RATE = "3/min"
    client = KeyClient(make_key()[1])
    other = KeyClient(make_key()[1])
    assert [client.get(TICKETS).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(TICKETS)
    assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert other.get(TICKETS).status_code == 200  # per key, not global


# --- Pagination -----------------------------------------------------------------------------


def test_cursor_pages_walk_every_ticket_once(api_client):
    now = timezone.now()
    made = [TicketFactory(updated_at=now).number for _ in range(5)]  # equal timestamps: ties
    seen, url = [], f"{TICKETS}?page_size=2"
    while url:
        body = api_client.get(url).json()
        assert len(body["results"]) <= 2
        seen += [t["number"] for t in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


def test_page_size_is_capped(api_client):
    from tickets.api.pagination import CursorPagination

    assert CursorPagination.max_page_size == 200
    assert api_client.get(f"{TICKETS}?page_size=100000").status_code == 200


def test_ordering_outside_the_allow_list_is_a_400(api_client):
    body = assert_problem(api_client.get(f"{TICKETS}?ordering=subject"), 400, "validation")
    assert body["errors"][0]["field"] == "ordering"


# --- Idempotency ----------------------------------------------------------------------------


def _ticket_body(email="ada@example.com"):
    return {"customer": {"email": email, "name": "Ada"}, "subject": "Hello", "message": {"text": "Help me"}}


def test_idempotent_post_is_replayed_not_repeated(api_client, email_channel):
    from tickets.models import Ticket

    first = api_client.post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 201
    again = api_client.post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="abc-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Ticket.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_422(api_client, email_channel):
    assert api_client.post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="k2").status_code == 201
    other = api_client.post(TICKETS, _ticket_body("bob@example.com"), HTTP_IDEMPOTENCY_KEY="k2")
    assert_problem(other, 422, "idempotency-key-reused")


def test_idempotency_keys_belong_to_their_api_key(make_key, email_channel):
    from tickets.models import Ticket

    a, b = KeyClient(make_key()[1]), KeyClient(make_key()[1])
    assert a.post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    assert b.post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    assert Ticket.objects.count() == 2


def test_a_request_in_progress_blocks_its_duplicate(api_client, email_channel):
    from tickets.models import Ticket

    # The first request claimed the key and has not finished: the duplicate must not run.
    IdempotencyRecord.objects.create(
        owner=f"key:{api_client.key.pk}", key="busy", fingerprint="x", created_at=timezone.now()
    )
    response = api_client.post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code in (409, 422)
    assert Ticket.objects.count() == 0


def test_in_progress_duplicate_with_same_body_is_409(api_client, email_channel):
    from tickets.api.idempotency import _fingerprint  # noqa: F401  (the claim is what matters)
    from tickets.models import Ticket

    first = api_client.post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="k3")
    IdempotencyRecord.objects.filter(key="k3").update(status_code=None, response_body=None)
    assert_problem(api_client.post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="k3"), 409, "idempotency-in-progress")
    assert first.status_code == 201 and Ticket.objects.count() == 1


def test_failed_validation_is_replayed_too_and_expired_keys_run_again(api_client, email_channel):
    bad = {"customer": {"email": "x"}}
    assert api_client.post(TICKETS, bad, HTTP_IDEMPOTENCY_KEY="v").status_code == 400
    assert api_client.post(TICKETS, bad, HTTP_IDEMPOTENCY_KEY="v")["Idempotent-Replayed"] == "true"
    IdempotencyRecord.objects.filter(key="v").update(created_at=timezone.now() - timezone.timedelta(hours=25))
    assert not api_client.post(TICKETS, bad, HTTP_IDEMPOTENCY_KEY="v").has_header("Idempotent-Replayed")


# --- ETag / If-Match --------------------------------------------------------------------------


def test_etag_changes_with_the_ticket_and_stale_if_match_is_412(api_client):
    ticket = TicketFactory()
    url = f"{TICKETS}{ticket.number}/"
    etag = api_client.get(url)["ETag"]
    assert etag.startswith('"')
    changed = api_client.patch(url, {"priority": "high"}, HTTP_IF_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    stale = api_client.patch(url, {"priority": "low"}, HTTP_IF_MATCH=etag)
    assert_problem(stale, 412, "precondition-failed")
    ticket.refresh_from_db()
    assert ticket.priority == "high"
    assert api_client.patch(url, {"priority": "low"}, HTTP_IF_MATCH="*").status_code == 200
    assert api_client.patch(url, {"priority": "urgent"}).status_code == 200  # If-Match is optional


@full_mode_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_once(make_key, email_channel):
    """Eight clients send the same create with the same Idempotency-Key at once: one ticket."""
    import threading

    from django.db import connection

    from tickets.models import Ticket

    _, raw = make_key()
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        try:
            barrier.wait()
            response = KeyClient(raw).post(TICKETS, _ticket_body(), HTTP_IDEMPOTENCY_KEY="race")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Ticket.objects.count() == 1
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses


def test_expired_idempotency_records_are_pruned(api_client):
    from tickets.api.tasks import prune_idempotency_records

    now = timezone.now()
    old = IdempotencyRecord.objects.create(owner="key:x", key="old", fingerprint="f", status_code=201, created_at=now - timezone.timedelta(hours=25))
    fresh = IdempotencyRecord.objects.create(owner="key:x", key="new", fingerprint="f", status_code=201, created_at=now)
    assert prune_idempotency_records.delay().get() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()


def test_requests_without_credentials_are_limited_per_address_whatever_x_forwarded_for_says(db, settings):
    # The public documentation is what anonymous clients may fetch (other addresses answer 401 first).
    settings.API_THROTTLE_ANON_RATE = "2/min"
    settings.PARLEY_TRUSTED_PROXIES = 0
    client = KeyClient()
    address = "198.51.100.7"
    statuses = [
        client.get("/api/docs/", REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert client.get("/api/docs/", REMOTE_ADDR="198.51.100.8").status_code == 200
