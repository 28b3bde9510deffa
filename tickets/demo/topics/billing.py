"""Topics the billing team owns: charges, refunds, invoices and cancellations."""

from __future__ import annotations

from tickets.models import Ticket

from .schema import Case, Topic

BILLING_CHARGE = Topic(
    key="billing_charge", team="billing", tags=("billing", "invoice"), weight=9, priority=Ticket.Priority.HIGH, sentiment=(-0.7, -0.1),
    cases=(
        Case(
            subjects=("Charged twice this month", "Double charge on my card"),
            ask="I was charged {amount} twice on {date} for the same subscription. Please refund the duplicate payment as soon as possible.",
            chat="you charged me twice this month!",
            answer="I'm sorry about this. I can see two payments of {amount} on {date}; the second was a retry that should have been voided. I've started the refund.",
            follow_up="Thanks. How long will the refund take?",
            hold="I'm sorry about this. I can see two payments of {amount} on {date}; I've asked our payments team to confirm which one to refund and will be back shortly.",
            resolution="The refund of {amount} is on its way; banks usually show it within 5 to 10 business days. Solving this now.",
            note="Duplicate charge from a payment provider retry.",
        ),
        Case(
            subjects=("Unexpected charge of {amount}",),
            ask="There's a charge of {amount} on my statement that I don't recognise. Our plan should be cheaper than that. Can you explain?",
            chat="why was I charged {amount}? that's not my plan price",
            answer="Thanks for flagging it. The {amount} includes the prorated upgrade to {plan} from last month. I've attached a breakdown to your invoice {invoice}.",
            follow_up="I never asked for an upgrade to {plan}. Please reverse it.",
            hold="Thanks for flagging it. The {amount} doesn't match your plan's price, so I've asked our finance team to go through the charge; I'll get back to you with the details.",
            resolution="The {amount} came from an upgrade to {plan} that should never have happened. I've reverted your plan and refunded the difference; you'll see it on your next statement.",
            note="Check with finance whether the proration should have shown on the invoice.",
        ),
    ),
    reopen="I've been charged the wrong amount again this month.",
    reopen_reply="Sorry, that shouldn't have happened twice. I've refunded the extra charge and asked our payments team to fix your billing profile for good. Solving this.",
)

REFUND = Topic(
    key="refund", team="billing", tags=("billing", "refund"), weight=8, priority=Ticket.Priority.NORMAL, sentiment=(-0.3, 0.3),
    cases=(
        Case(
            subjects=("Refund request for order {order}", "Return and refund for {order}"),
            ask="I'd like to return order {order}. The item doesn't fit what we need. How do I get a refund?",
            chat="can I get a refund for order {order}?",
            answer="Of course. I've created a return label for order {order}, attached here. Once the parcel is scanned we refund you within three days.",
            follow_up="Label printed and parcel sent. When will I see the money?",
            hold="Of course. I've sent you a return label for order {order}; the refund goes out once our warehouse has checked the parcel, and I'll update you here.",
            resolution="Our warehouse has checked your return, and the refund of {amount} for order {order} is on its way. Thanks for your patience!",
            note="Refund approved under 30-day policy.",
        ),
        Case(
            subjects=("I'd like a refund", "Billed after cancelling our trial"),
            ask="We cancelled within the trial period but were still billed {amount}. Please refund it.",
            chat="I cancelled during the trial and still got billed {amount}, can I get a refund?",
            answer="You're right, the cancellation should have stopped the billing. I've refunded {amount} to your card.",
            follow_up="Thanks. Will I get a confirmation for our records?",
            hold="You're right, the cancellation should have stopped the billing. I've asked our billing team to refund the {amount} and will update you once it's done.",
            resolution="The refund of {amount} has gone through, and a confirmation email is on its way to you. Sorry again for the charge; I'm marking this solved.",
            note="Trial cancellation did not propagate to billing; reported to engineering.",
        ),
    ),
    reopen="Sorry to bother you again, but I still don't see the refund on my account.",
    reopen_reply="I've checked with our payments team: the refund left us on our side, and your bank should show it within 5 business days. I've emailed you the transaction reference. Solving this again.",
)

INVOICE = Topic(
    key="invoice", team="billing", tags=("billing", "invoice"), weight=6, priority=Ticket.Priority.LOW, sentiment=(0.0, 0.5),
    cases=(
        Case(
            subjects=("Need a VAT invoice", "Invoice {invoice} is missing our VAT number"),
            ask="Our finance team needs a proper VAT invoice for {invoice}, with our company name and VAT number on it.",
            chat="can you add our VAT number to the invoice?",
            answer="Sure. I've added the VAT number to your account and reissued {invoice}; you'll find it under Billing > Invoices.",
            follow_up="Thanks, but the company name on {invoice} is still our old one.",
            hold="Sure. VAT details on issued invoices can only be changed by our finance team, so I've passed your request on; I'll let you know as soon as {invoice} is reissued.",
            resolution="Done: {invoice} has been reissued with your company name and VAT number, and all future invoices will show them too. Anything else, just reply here.",
            note="The customer's VAT id was missing from their account.",
        ),
        Case(
            subjects=("Please change the billing address",),
            ask="We moved offices. Could you update the billing address on our account and reissue {invoice}?",
            chat="need to change billing address on our account",
            answer="Of course! You can update the billing address yourself under Billing > Details, and the Reissue button next to {invoice} then creates a fresh copy with the new address.",
            follow_up="I've changed the address, but there's no Reissue button next to {invoice}.",
            hold="Of course! Invoices that are already issued can only be changed by our finance team, so I've passed your request on; I'll update you here once {invoice} is reissued.",
            resolution="All done: {invoice} has been reissued with your new billing address, and future invoices will use it too. Have a great week!",
            note="Customer moved offices; {invoice} needs the new billing address.",
        ),
    ),
    reopen="The latest invoice still shows the old details, I'm afraid.",
    reopen_reply="Sorry about that! The new details hadn't been saved for future invoices. I've fixed that and reissued the latest one. Solving this.",
)

CANCEL = Topic(
    key="cancel", team="billing", tags=("cancellation", "billing"), weight=5, priority=Ticket.Priority.NORMAL, sentiment=(-0.4, 0.1),
    cases=(
        Case(
            subjects=("How do I cancel my subscription?", "Cancel our plan at the end of the month"),
            ask="We'd like to cancel our subscription at the end of the current billing period. What do we need to do?",
            chat="how do I cancel my subscription",
            answer="I'm sorry to see you go. I've scheduled the cancellation for the end of your billing period; you keep full access until then.",
            follow_up="Thanks. What happens to our data after that?",
            hold="I'm sorry to see you go. As your account is on a contract, cancellations go through our accounts team; I've passed yours on and will confirm here once it's scheduled.",
            resolution="Your subscription ends with this billing period and a confirmation email is on its way. Your data stays available for 30 days after that, in case you change your mind.",
            note="Cancellation at period end; no open invoices.",
        ),
        Case(
            subjects=("Downgrade instead of cancel?",),
            ask="We're thinking of cancelling because of the price. Is there a smaller plan we could move to instead?",
            chat="is there a cheaper plan? thinking of cancelling",
            answer="We do have the {plan} plan, which would cost you about 40% less. You can switch to it under Billing > Plan, and the change takes effect at your next renewal.",
            follow_up="Could you switch us to {plan}, please? I can't find that option.",
            hold="We do have smaller plans; I'm checking with our billing team which one fits your usage and what it would cost you. I'll get back to you shortly.",
            resolution="All set: you move to the {plan} plan, about 40% cheaper, at your next renewal. You'll get a confirmation email shortly.",
            note="Retention offer: {plan} at renewal.",
        ),
    ),
    reopen="We were billed again this month, which I didn't expect after our conversation.",
    reopen_reply="You're right, that charge shouldn't have happened. I've refunded it and checked that your account is set up as we agreed. Solving this.",
)
