"""Topics the technical team owns: bugs, the mobile app, the API and outages."""

from __future__ import annotations

from tickets.models import Ticket

from .schema import Case, Topic

BUG = Topic(
    key="bug", team="technical", tags=("bug",), weight=10, priority=Ticket.Priority.HIGH, sentiment=(-0.6, 0.0),
    cases=(
        Case(
            subjects=("Export to CSV fails with an error",),
            ask="When I try to export our contacts to CSV, I get 'Something went wrong' after a few seconds. It worked fine last week. I'm on {browser}.",
            chat="CSV export gives an error, worked last week",
            answer="Thanks for the detailed report. Large exports currently time out; until the fix ships, exporting smaller date ranges works. Sorry for the hassle!",
            follow_up="Smaller ranges work, but we need the full export for our month-end. Any update on the fix?",
            hold="Thanks for the detailed report. I can reproduce the error and have passed it to our engineers. I'll keep you posted here.",
            resolution="Our engineers found a timeout on large exports and fixed it. Exports of any size should work now.",
            note="Reproduced on staging with 40k contacts; filed ENG-{ref}.",
        ),
        Case(
            subjects=("Reports page shows no data since the update",),
            ask="Since yesterday's update the reports page is empty for every date range. Our manager needs the monthly report by Friday.",
            chat="reports page is empty since the update??",
            answer="Thanks for letting us know. The update changed the reports page's default filter to 'My team only'; switching it back to 'All teams' brings your data back.",
            follow_up="Here's a screenshot: 'All teams' is selected and the page is still empty for every range.",
            hold="Thanks for letting us know. I see the same empty reports on your account and have passed it to our engineers as urgent; I'll keep you posted here.",
            resolution="Good news: our engineers fixed the bug in yesterday's update that hid report data, and the fix was released this morning. Your reports are back; reply here if anything is still missing.",
            note="Reports query broken for accounts with archived teams; ENG-{ref}.",
        ),
        Case(
            subjects=("Error 500 when saving settings",),
            ask="Every time I try to save our notification settings I get an 'Error 500' page, and my changes are lost.",
            chat="getting error 500 when I save our settings",
            answer="Sorry about that! The error came from an invalid address in your notification list; I've removed it, so saving your settings works again.",
            follow_up="Saving works now, but the error is back as soon as I add our new shared inbox address.",
            hold="Sorry about that! I can reproduce the error 500 on your settings page and have reported it to our engineers; I'll update you here as soon as there's a fix.",
            resolution="Our engineers fixed the bug behind the error 500 and the fix is live, so all your settings save normally now. Sorry for the trouble!",
            note="500 from the settings form: unhandled validation error, see ENG-{ref}.",
        ),
    ),
    reopen="The error is back since this morning, I'm afraid.",
    reopen_reply="Thanks for telling us. A later release brought the bug back; it's fixed again and we've added a test so it stays fixed. Solving this.",
)

MOBILE = Topic(
    key="mobile", team="technical", tags=("bug", "mobile-app"), weight=5, priority=Ticket.Priority.HIGH, sentiment=(-0.5, 0.0),
    cases=(
        Case(
            subjects=("App crashes on startup",),
            ask="The app crashes right after the splash screen on my {mobile}. I've reinstalled it twice.",
            chat="app keeps crashing on my {mobile}",
            answer="Sorry about this! Version 4.12.1, out since yesterday, fixes a startup crash on {mobile}; updating from the store should get you going again.",
            follow_up="I updated to 4.12.1 and it still crashes on startup.",
            hold="Sorry about this! I've passed the crash on your {mobile} to our mobile team together with your account details; I'll let you know as soon as there's a fix.",
            resolution="Version 4.12.2 is now in the store and fixes the startup crash on {mobile}. Please update and let us know if anything is off.",
            note="Crash logs point to the image cache migration in 4.12.0.",
        ),
        Case(
            subjects=("Push notifications stopped working",),
            ask="Since the last update I don't get any push notifications on my {mobile}, even though they're enabled.",
            chat="not getting push notifications anymore on the app",
            answer="Thanks for reporting this. Signing out of the app and back in re-registers your {mobile} for notifications, which fixes this in most cases.",
            follow_up="Tried that, still no notifications.",
            hold="Thanks for reporting this. Other customers see the same, and our mobile team is looking into it; I'll update you here as soon as I know more.",
            resolution="We found the cause: a certificate rotation on our side. It's fixed and notifications should arrive again.",
            note="Push certificate rotation on our side; duplicate of ENG-{ref}.",
        ),
        Case(
            subjects=("Mobile app stuck on loading screen",),
            ask="Since this morning the mobile app is stuck on the loading screen on my {mobile}. The website works fine.",
            chat="app stuck on the loading screen, website works",
            answer="Sorry about that! The app was waiting on an old session; I've signed you out of it from our side, so it opens normally once you log in again.",
            follow_up="I logged in again but it's still stuck on the loading screen.",
            hold="Sorry about that! I've asked our mobile team to look at your account's app logs and will get back to you as soon as I hear from them.",
            resolution="Our engineers found that the first sync of your large account timed out, which kept the app on the loading screen. It's fixed on our side, so the app opens normally now.",
            note="App sync times out for accounts with over 10k records; ENG-{ref}.",
        ),
    ),
    reopen="The app has the same problem again since the latest update.",
    reopen_reply="Sorry about that! The latest update brought the problem back; version 4.12.3 fixes it again and is in the store now. Solving this.",
)

API = Topic(
    key="api", team="technical", tags=("api", "integration"), weight=5, priority=Ticket.Priority.NORMAL, sentiment=(-0.3, 0.2),
    cases=(
        Case(
            subjects=("Webhooks stopped firing",),
            ask="Our webhook endpoint hasn't received any events since {date}. Nothing changed on our side as far as we know.",
            chat="webhooks not arriving since {date}",
            answer="I checked the delivery log: our calls to your endpoint have timed out after 10 seconds since {date}, so the webhook was paused. Once your server answers again, you can re-enable it under Settings > Webhooks.",
            follow_up="Found it, our firewall blocked your new IP range. Fixed now, but the webhook is still paused.",
            hold="Thanks for reporting this. Our deliveries to your endpoint have failed since {date}; I've asked our integrations team to find out why and will update you here.",
            resolution="I've re-enabled the webhook and replayed all the events since {date}; our delivery log shows your endpoint answering normally again. All good on our side now.",
            note="Webhook auto-disabled after 50 consecutive timeouts.",
        ),
        Case(
            subjects=("API returns 429 Too Many Requests",),
            ask="We're getting HTTP 429 from the API even though we send far fewer than 100 requests per minute.",
            chat="getting 429 from the API, we're way under the limit",
            answer="Your key is shared by three integrations, so together they go over the limit. I've raised your limit for now.",
            follow_up="Thanks, that explains it. Will the higher limit stay, or do we need separate keys?",
            hold="Thanks for reporting this. Your requests are being limited although they're under the documented rate; I've asked our API team to check the limiter for your key.",
            resolution="Your key is shared by three integrations, which together went over the limit. I've raised it to 300 requests per minute for good, which covers all three. Solving this.",
            note="Key shared by three integrations; together they go over the rate limit.",
        ),
        Case(
            subjects=("OAuth token refresh fails",),
            ask="Our integration can't refresh its OAuth token any more: the token endpoint has answered 'invalid_grant' since {date}, so we reconnect by hand every hour.",
            chat="oauth token refresh fails with invalid_grant",
            answer="Thanks for the details. Since {date} each refresh token works only once, so your integration needs to keep the new refresh token that comes with every response. Our docs have an example under Authentication.",
            follow_up="We keep the new token now, but a few refreshes still fail with invalid_grant.",
            hold="Thanks for the details. I can see the failed refreshes in our logs and have asked our API team to look into them; I'll update you here.",
            resolution="Our engineers found that refreshes sent within a second of each other were rejected. That's fixed now, and your integration's refreshes all go through in our logs. Solving this.",
            note="invalid_grant on refresh: token rotation race, ENG-{ref}.",
        ),
    ),
    reopen="The integration is failing again since this morning, same errors as before.",
    reopen_reply="Thanks for the quick heads-up. A configuration change on our side undid the fix this morning; it's restored and we've added a check so it can't happen again. Solving this.",
)

OUTAGE = Topic(
    key="outage", team="technical", tags=("bug", "outage"), weight=2, priority=Ticket.Priority.URGENT, sentiment=(-0.9, -0.4),
    cases=(
        Case(
            subjects=("Dashboard is down, error 502",),
            ask="Our whole team is getting 502 errors on the dashboard since 10 minutes ago. This is blocking our operations.",
            chat="dashboard down, 502 for everyone here",
            answer="Confirmed: one of our database nodes failed over, which caused the 502 errors. Service is restored; reload the dashboard and you should be back in.",
            follow_up="The dashboard loads again, but very slowly.",
            hold="We're aware of the issue and our engineers are on it. Status updates are on our status page; I'll update you here too.",
            resolution="Everything is back to normal. We'll publish a post-mortem this week. Sorry for the disruption.",
            note="Linked to incident INC-{ref}.",
        ),
        Case(
            subjects=("URGENT: nobody on our team can log in",),
            ask="Nobody on our team can log in right now. Is there an outage?",
            chat="is the service down? nobody can log in",
            answer="Yes, sorry: our login service was down for about 20 minutes. It's back up, so everyone on your team can log in again.",
            follow_up="Some of us still can't log in.",
            hold="Yes, our login service has an incident right now, and our engineers are working on it. I'll update you here as soon as it's resolved.",
            resolution="Service is fully restored, including the sessions of everyone who was logged out. Thanks for your patience during the incident.",
            note="Customer affected for ~40 minutes; consider a goodwill credit.",
        ),
        Case(
            subjects=("Site extremely slow right now",),
            ask="The site is extremely slow right now: every page takes 20 seconds or more to load. Is something wrong on your side?",
            chat="site is super slow right now, everything takes ages",
            answer="Yes, sorry about that: a traffic spike slowed down one of our regions. We've added capacity, and pages load normally again.",
            follow_up="Better, but still slower than usual here.",
            hold="Thanks for reporting this. We're seeing slow responses in your region and our engineers are on it. Status updates are on our status page; I'll update you here too.",
            resolution="Everything is back to normal speed now. We'll publish a post-mortem this week. Sorry for the disruption.",
            note="Linked to incident INC-{ref}; high latency in one region.",
        ),
    ),
    reopen="It's happening again right now!",
    reopen_reply="Sorry, the incident flared up again for a few minutes while we moved traffic. Everything is stable now and we're monitoring it closely. Solving this.",
)
