"""The email a channel subscription's owner gets when it is disabled."""

from __future__ import annotations

from statuspage.mail.templates import ComposedEmail, render_email
from statuspage.notifications import netguard
from statuspage.notifications.models import ChannelKind, ChannelSubscription


def target_host(subscription: ChannelSubscription) -> str:
    """Only the host: a webhook URL's path and query may hold the receiver's own secret. A
    phone number shows its country code and last four digits."""
    if subscription.kind == ChannelKind.SMS:
        from statuspage.notifications.chat.sms_optin import mask_number

        return mask_number(subscription.target)
    try:
        return netguard.parse_url(subscription.target, netguard.NetworkPolicy(allow_http=True)).host
    except netguard.UnsafeTarget:
        return "(an address no longer accepted)"


def disabled_email(subscription: ChannelSubscription, *, site_name: str) -> ComposedEmail:
    context = {
        "site_name": site_name,
        "kind": subscription.kind.value,
        "host": target_host(subscription),
        "reason": subscription.disabled_reason,
        "subscription_id": subscription.id,
    }
    return render_email(
        "channel_disabled",
        f"Your {subscription.kind.value} subscription to {site_name} is off",
        context,
    )
