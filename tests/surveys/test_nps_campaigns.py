"""NPS campaigns: choose customers, preview the count, send in batches, watch the answers."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from metrics.surveys.models import NpsCampaign, SurveyInvitation, SurveyResponse
from metrics.surveys.services import nps_campaign_create, nps_campaign_send_batch_run, nps_campaign_start
from tests.factories import AgentFactory, CustomerFactory, CustomerIdentityFactory, OrganizationFactory
from tests.surveys.conftest import local

pytestmark = pytest.mark.django_db

NPS_LINK_RE = re.compile(r"^\s+(\d+): (http://\S+)$", re.MULTILINE)


def _customer(email: str | None, **kwargs):
    customer = CustomerFactory(**kwargs)
    if email:
        CustomerIdentityFactory(customer=customer, kind="email", address=email)
    return customer


@pytest.fixture
def people():
    acme = OrganizationFactory(name="Acme")
    return {
        "ann": _customer("ann@acme.test", organization=acme, name="Ann Acme"),
        "bob": _customer("bob@acme.test", organization=acme, tier="vip", name="Bob Acme"),
        "cy": _customer("cy@else.test", tier="vip", name="Cy Else"),
        "nomail": _customer(None, organization=acme, name="No Mail"),
        "acme": acme,
    }


def _manager_client() -> Client:
    profile = AgentFactory(role="manager")
    profile.user.is_superuser = False
    profile.user.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(profile.user)
    return client


def test_a_manager_previews_then_sends_to_one_organization(people, django_capture_on_commit_callbacks, client):
    manager = _manager_client()
    form = {"name": "Q3 NPS", "audience": "organization", "organization": people["acme"].pk}
    preview = manager.post("/manage/surveys/campaigns/new/", form | {"preview": "1"})
    assert preview.status_code == 200
    assert "2 customers" in preview.content.decode()  # Ann and Bob; "No Mail" has no address
    assert not NpsCampaign.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        sent = manager.post("/manage/surveys/campaigns/new/", form | {"send": "1"})
    campaign = NpsCampaign.objects.get()
    assert sent.status_code == 302 and sent["Location"] == f"/manage/surveys/campaigns/{campaign.pk}/"
    assert (campaign.status, campaign.recipients_total, campaign.sent_count) == ("sent", 2, 2)
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@acme.test", "bob@acme.test"]

    ann_mail = next(m for m in mail.outbox if m.to == ["ann@acme.test"])
    assert "Hello Ann," in ann_mail.body
    links = dict((int(s), u) for s, u in NPS_LINK_RE.findall(ann_mail.body))
    assert sorted(links) == list(range(11))
    assert client.get(local(links[9])).status_code == 200 and not SurveyResponse.objects.exists()
    path = local(links[9]).split("?")[0]
    client.post(path, {"score": "9"})
    client.post(path, {"score": "10"})  # changed, not added
    client.post(path, {"comment": "Great people"})
    response = SurveyResponse.objects.get()
    assert (response.kind, response.score, response.customer_id, response.ticket_id, response.comment) == (
        "nps", 10, people["ann"].pk, None, "Great people"
    )

    page = manager.get(f"/manage/surveys/campaigns/{campaign.pk}/").content.decode()
    assert "2 of 2 emails sent" in page and "Great people" in page and ">100<" in page


def test_campaigns_send_in_batches_and_never_twice(people, django_capture_on_commit_callbacks):
    campaign = nps_campaign_create(name="VIPs", audience="tier", tier="vip")
    campaign = nps_campaign_start(campaign_id=campaign.pk)  # its first batch waits for the commit
    assert (campaign.recipients_total, campaign.status) == (2, "sending")

    assert nps_campaign_send_batch_run(campaign_id=campaign.pk, batch_size=1) == 1
    assert NpsCampaign.objects.get().status == "sending"
    assert nps_campaign_send_batch_run(campaign_id=campaign.pk, batch_size=1) == 1
    assert nps_campaign_send_batch_run(campaign_id=campaign.pk, batch_size=1) == 0
    campaign.refresh_from_db()
    assert (campaign.status, campaign.sent_count) == ("sent", 2)
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@acme.test", "cy@else.test"]
    # A late duplicate of the task, or a second start, sends nothing more.
    assert nps_campaign_send_batch_run(campaign_id=campaign.pk) == 0
    nps_campaign_start(campaign_id=campaign.pk)
    assert len(mail.outbox) == 2 and SurveyInvitation.objects.count() == 2


def test_the_campaign_form_says_what_is_missing(people):
    manager = _manager_client()
    page = manager.post("/manage/surveys/campaigns/new/", {"name": "", "audience": "organization", "preview": "1"})
    text = page.content.decode()
    assert "This field is required" in text and "Choose the organization." in text
    assert not NpsCampaign.objects.exists()


def test_agents_cannot_open_the_survey_pages():
    profile = AgentFactory(role="agent")
    profile.user.is_superuser = False
    profile.user.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(profile.user)
    assert client.get("/manage/surveys/").status_code == 403
    assert client.get("/manage/surveys/campaigns/new/").status_code == 403
    assert _manager_client().get("/manage/surveys/settings/").status_code == 403  # settings: admins only


def test_the_survey_overview_queries_do_not_grow_with_the_campaigns(people, django_assert_max_num_queries):
    manager = _manager_client()
    manager.get("/manage/surveys/")  # warm the session and role caches
    for n in range(12):
        nps_campaign_create(name=f"Campaign {n}", audience="organization", organization_id=people["acme"].pk)
    with django_assert_max_num_queries(8):
        page = manager.get("/manage/surveys/")
    assert page.status_code == 200 and "Campaign 11" in page.content.decode()
