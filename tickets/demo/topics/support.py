"""Topics the support team owns: logins, deliveries, requests and questions."""

from __future__ import annotations

from tickets.models import Ticket

from .schema import Case, Topic

LOGIN = Topic(
    key="login", team="support", tags=("login", "account"), weight=14, priority=Ticket.Priority.NORMAL, sentiment=(-0.4, 0.2),
    cases=(
        Case(
            subjects=("Can't log in to my account", "Login keeps saying my password is wrong"),
            ask="Since this morning I can't log in. It says my password is incorrect, but I haven't changed it and the reset link doesn't seem to help.",
            chat="hi, I can't log into my account, it says wrong password",
            answer="I've cleared the failed attempts on your account, so you can try again now. If the password is still refused, please use 'Forgot password' and the new one will work straight away.",
            follow_up="Still the same error, I'm afraid. I'm using {browser} on {device}.",
            hold="Thanks for reporting this. I've asked our engineers to look at the login logs for your account and will get back to you as soon as I hear from them.",
            resolution="We found the cause: a stale session cookie from before our last update kept your password from being accepted. I've cleared it on our side, so you can log in now. Solving this for now.",
            note="Checked auth logs: repeated failures from an old saved password.",
        ),
        Case(
            subjects=("Locked out after too many attempts",),
            ask="I'm locked out of my account after a few failed attempts and now the login page just spins. I need access today for a client meeting.",
            chat="my account is locked?? can't get in since this morning",
            answer="Thanks for reporting this. Your account was locked after five failed attempts; I've unlocked it, so you can log in again. If the page still spins, a private browser window gets you past the old session.",
            follow_up="The login page still just spins after I enter my password. I'm on {browser}.",
            hold="Sorry for the trouble! Your account is blocked by our brute-force protection, which only our security team can lift; I've asked them to do it and will update you here.",
            resolution="Found it: the lock had left a stuck session behind, which kept the login page spinning. I've removed it and unlocked your account, so you can log in normally now. Solving this; reply if anything's off.",
            note="Locked by brute-force protection after five failed attempts.",
        ),
    ),
    reopen="I can't log in again, same problem as last time.",
    reopen_reply="Sorry it came back! I've cleared your login state again and asked our engineers to find out why it recurs. You can log in now; solving this.",
)

PASSWORD_RESET = Topic(
    key="password_reset", team="support", tags=("login", "password-reset"), weight=8, priority=Ticket.Priority.NORMAL, sentiment=(-0.3, 0.3),
    cases=(
        Case(
            subjects=("Password reset email never arrives", "No reset link in my inbox"),
            ask="I requested a password reset three times and nothing arrives, not even in spam. Could you check whether my address is correct on your side?",
            chat="reset password email isn't coming through",
            answer="I can see the reset emails were sent but bounced by your mail server. I've sent a fresh link from a different route; it's valid for one hour.",
            follow_up="Still nothing arriving here, sorry.",
            hold="Your address is correct on our side, but your mail server rejects our reset emails. I've asked our email team to look into it and will update you here.",
            resolution="I've reset the password for you and sent a temporary one by SMS. Please change it after logging in.",
            note="Bounce from customer's MX: 550 policy rejection; they should allow-list our sender.",
        ),
        Case(
            subjects=("Reset password link expired",),
            ask="The reset link in your email says it has expired, even though I clicked it within a minute.",
            chat="the reset link says expired straight away",
            answer="Sorry about that. Some mail scanners open links before you do, which uses them up. I've sent you a one-time code instead.",
            follow_up="The code says it has expired too, I'm afraid.",
            hold="Sorry about that. It looks like a mail scanner opens our links before you do, which uses them up; I've asked our email team to check and will get back to you.",
            resolution="I've set a temporary password for you and sent it by SMS, so you don't need the link at all. Please change it after logging in.",
            note="Customer's mail gateway opens links before delivery; one-time codes are the workaround.",
        ),
    ),
    reopen="Same problem again with the password reset, I'm afraid.",
    reopen_reply="Sorry about that! I've set a new temporary password and sent it to you by SMS; please change it after logging in. Solving this again.",
)

SHIPPING = Topic(
    key="shipping", team="support", tags=("shipping", "order"), weight=12, priority=Ticket.Priority.NORMAL, sentiment=(-0.6, 0.1),
    cases=(
        Case(
            subjects=("Where is my order {order}?", "Order {order} hasn't arrived", "Tracking hasn't updated in a week"),
            ask="I ordered on {date} (order {order}) and it still hasn't arrived. The tracking page hasn't changed in days.",
            chat="where is my order {order}? tracking stuck",
            answer="Sorry for the wait! Order {order} was held at the carrier's depot because of a missing house number; I've given them your full address and it's out for delivery again.",
            follow_up="Any news from the carrier? Still nothing here.",
            hold="Thanks for your patience. I've contacted the carrier about order {order}; they'll investigate and I'll update you within two working days.",
            resolution="The carrier confirmed the parcel was lost, so I've shipped a replacement with express delivery. Tracking is in your account.",
            note="Tracking for {order} hasn't moved since the parcel reached the carrier's depot.",
        ),
        Case(
            subjects=("Parcel for order {order} says delivered but isn't here", "Marked as delivered, but no parcel"),
            ask="My parcel for order {order} says delivered but there's nothing here in {city}.",
            chat="parcel says delivered but I don't have it. order {order}",
            answer="I'm sorry! The carrier says it was left with a neighbour. If it doesn't turn up today, I'll send a replacement.",
            follow_up="I've asked all my neighbours and nobody has it.",
            hold="I'm sorry! I've opened an investigation with the carrier about order {order}; they usually answer within two working days, and I'll update you here.",
            resolution="I've shipped a replacement for order {order} with express delivery, and the carrier is looking for the missing parcel. Tracking is in your account.",
            note="Second missing parcel this month in {city}; flagging to logistics.",
        ),
    ),
    reopen="Sorry to come back to this, but the parcel still isn't here.",
    reopen_reply="I'm sorry! I've chased the carrier and the parcel is now on an express route with delivery guaranteed tomorrow. Tracking is in your account. Solving this.",
)

DAMAGED = Topic(
    key="damaged", team="support", tags=("shipping", "returns"), weight=5, priority=Ticket.Priority.NORMAL, sentiment=(-0.5, 0.2),
    cases=(
        Case(
            subjects=("Item arrived damaged", "Broken item in order {order}"),
            ask="Order {order} arrived today and the item is cracked. I've attached photos. What are my options?",
            chat="my order {order} arrived broken",
            answer="I'm so sorry. There's no need to send it back; I've arranged a replacement which ships today.",
            follow_up="Thanks. When will the replacement arrive?",
            hold="I'm so sorry. I've passed your photos to our warehouse team to check the rest of the batch, and I'll get back to you about a replacement shortly.",
            resolution="The replacement for order {order} is on its way with express delivery, so you'll have it within two days. Sorry again for the trouble!",
            note="Replacement without return, under the damaged-goods policy.",
        ),
        Case(
            subjects=("Wrong item received", "Wrong size in order {order}"),
            ask="I received the wrong size in order {order}. Can you exchange it?",
            chat="you sent the wrong size, order {order}",
            answer="Apologies for the mix-up. I've emailed a prepaid return label; the right size ships as soon as you drop the parcel off.",
            follow_up="Dropped it off this morning. When will the right size ship?",
            hold="Apologies for the mix-up! I'm checking with our warehouse whether your size is in stock and will get back to you shortly.",
            resolution="The right size for order {order} has shipped and tracking is in your account. Sorry again for the mix-up; solving this now.",
            note="Picking error at the warehouse (wrong size); exchange free of charge.",
        ),
    ),
    reopen="Sorry to come back to this: what arrived today isn't right either.",
    reopen_reply="I'm really sorry about that! I've refunded order {order} in full, and you're welcome to keep the item. Solving this.",
)

FEATURE = Topic(
    key="feature", team="support", tags=("feature-request",), weight=6, priority=Ticket.Priority.LOW, sentiment=(0.1, 0.6),
    cases=(
        Case(
            subjects=("Feature request: dark mode",),
            ask="Any plans for a dark mode? We work late shifts and the bright screen is hard on the eyes.",
            chat="any plans for dark mode?",
            answer="Thanks for the suggestion! I've added your vote to the dark mode request; it's on our roadmap for this year.",
            follow_up="Thanks. Is there anything we can use in the meantime?",
            hold="Thanks for the suggestion! I've asked our product team where dark mode stands on the roadmap and will let you know.",
            resolution="Dark mode is planned for this year, and your vote is counted. Until then, your browser's high-contrast mode softens the screen a lot. We'll let you know here when it ships.",
            note="Added vote on roadmap item PRD-{ref} (dark mode).",
        ),
        Case(
            subjects=("Can you add bulk editing?",),
            ask="Could you add bulk editing? It would save us hours if we could edit many records at once instead of one by one.",
            chat="would love bulk edit please",
            answer="Great idea, thanks. I've passed bulk editing on to our product team with your use case.",
            follow_up="Thanks! Any idea when it might be available?",
            hold="Great idea, thanks. I've asked our product team whether bulk editing is already planned and will get back to you.",
            resolution="Bulk editing is planned for next quarter; I've put your account on the early-access list, so you'll hear from us as soon as it's ready. Thanks again for the idea.",
            note="Added use case to roadmap item PRD-{ref} (bulk edit).",
        ),
        Case(
            subjects=("Suggestion: export to PDF",),
            ask="It would help us a lot if we could export a conversation to PDF, so we can attach it to our case files.",
            chat="can we get an export to PDF option?",
            answer="Thanks for the suggestion! I've added your vote to the PDF export request. Until it exists, printing a conversation and choosing 'Save as PDF' gives much the same result.",
            follow_up="Printing works, but the attachments are left out. A real export would be great.",
            hold="Thanks for the suggestion! I've asked our product team whether PDF export is planned and will get back to you.",
            resolution="Our product team has put PDF export, attachments included, on the roadmap for this year. I'll let you know here when it ships. Thanks for the idea!",
            note="Added vote on roadmap item PRD-{ref} (PDF export).",
        ),
    ),
    reopen="Any news on this? We'd still really like to have it.",
    reopen_reply="Not yet, I'm afraid, but it's still on our roadmap and your vote is counted. We'll write to you as soon as it ships.",
)

HOWTO = Topic(
    key="howto", team="support", tags=("how-to", "account"), weight=8, priority=Ticket.Priority.LOW, sentiment=(0.2, 0.7),
    cases=(
        Case(
            subjects=("How do I add a team member?",),
            ask="How do I add a team member to our account? I want to invite a colleague but can't find the option anywhere.",
            chat="how do I add a colleague to our account?",
            answer="You can invite colleagues under Settings > Team > Invite. They'll get an email with a link to join.",
            follow_up="There's no Invite button under Settings > Team for me.",
            hold="Good question! Who can invite colleagues depends on your role on the account, so I'm checking yours with our accounts team; I'll get back to you shortly.",
            resolution="Only account owners see the Invite button, so I've made you an owner: you'll find it under Settings > Team > Invite now. Happy to help!",
            note="Docs article on invitations could be clearer.",
        ),
        Case(
            subjects=("How to change my email address",),
            ask="I need to change the email address I log in with. Where do I do that?",
            chat="how can I change my login email?",
            answer="Go to Profile > Account, change the address there, and confirm the link we send to the new one.",
            follow_up="There's no option to change the email under Profile > Account for me.",
            hold="Good question! Your account signs in through single sign-on, so I'm checking with our accounts team how to change the email on it; I'll get back to you shortly.",
            resolution="Your account signed in through single sign-on, which hides the email setting. I've switched it to password login, so Profile > Account now lets you change the address. Glad to help!",
            note="Docs article on changing the login email could be clearer.",
        ),
        Case(
            subjects=("Where can I download my invoices?",),
            ask="Where can I download our invoices? Our accountant needs all of them for last year.",
            chat="where do I download my invoices?",
            answer="You'll find all your invoices under Billing > Invoices, each with a PDF download; the 'Download all' button there gives you a ZIP for any year.",
            follow_up="I only see the last three months there.",
            hold="Good question! Last year's invoices are archived, so I've asked our billing team to export them for you; I'll send them here as soon as they're ready.",
            resolution="Invoices older than three months are archived, so I've exported all of last year's for you: they're attached to this reply as a ZIP. Glad to help!",
            note="Their accountant needs all of last year's invoices.",
        ),
    ),
    reopen="Sorry to ask again, but I'm stuck with the same thing.",
    reopen_reply="No problem at all! I've checked your account again and sorted it out from our side, so it's all set now. Solving this.",
)

PRIVACY = Topic(
    key="privacy", team="support", tags=("account", "privacy"), weight=3, priority=Ticket.Priority.NORMAL, sentiment=(-0.1, 0.3),
    cases=(
        Case(
            subjects=("Data export request (GDPR)",),
            ask="Under GDPR I'd like a copy of all the personal data you hold about me.",
            chat="I want a copy of my data (GDPR)",
            answer="Of course. For your security, please confirm the request from the link we just emailed you; the export follows within 48 hours.",
            follow_up="Confirmed. Will the export include my chat history too?",
            hold="Of course. Our data protection team handles these requests; I've passed yours on and will send you the export here as soon as it's ready.",
            resolution="Your data export is ready, chat history included; the download link is valid for 7 days.",
            note="Identity verified through email confirmation.",
        ),
        Case(
            subjects=("Please delete my account and data",),
            ask="Please delete my account and all associated personal data.",
            chat="please delete my account and data",
            answer="Understood. Please confirm the deletion from the email we sent; once confirmed it completes within 30 days.",
            follow_up="Confirmed, thank you. Will I get a confirmation once it's done?",
            hold="Understood. Our data protection team handles deletions; I've passed your request on and will confirm here once it's done.",
            resolution="Your account and data have been deleted, and this message is your confirmation. Take care!",
            note="Identity verified through email confirmation; deletion scheduled.",
        ),
        Case(
            subjects=("Who has access to our data?",),
            ask="Our security team wants to know who at your company can access our data, and where it is stored.",
            chat="who on your side can access our data?",
            answer="Only our support and engineering staff can access your data, and only while working on one of your tickets; it's stored in EU data centres. Our security overview has the details.",
            follow_up="Thanks. Could we get a copy of your data processing agreement as well?",
            hold="Good question. I've asked our data protection officer for the details your security team needs and will send them here.",
            resolution="I've attached our data processing agreement and the list of our sub-processors. Let us know if your security team has any other questions.",
            note="Part of a security questionnaire from the customer's security team.",
        ),
    ),
    reopen="Sorry to come back to this, but I haven't received anything yet.",
    reopen_reply="Sorry about that! I've sent it again to your email, and our data protection team has confirmed it was delivered. Solving this.",
)
