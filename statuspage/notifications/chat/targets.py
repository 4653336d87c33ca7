"""Which URLs a chat subscription may name: each service's own webhook host, then the
channels' SSRF rules (`netguard.check_url`), which the worker applies again before every
request.

    Slack     https://hooks.slack.com/services/…
    Discord   https://discord.com/api/webhooks/… (also discordapp.com, ptb. and canary.)
    Teams     a Workflows trigger: https://….logic.azure.com/workflows/… or
              https://….powerplatform.com/…/workflows/…

The host list is fixed in the code, not a setting: a reader cannot make us post to any other
host by calling it Slack. Tests run their stand-ins on 127.0.0.1 by listing that network in
`CHANNEL_ALLOWED_TEST_NETWORKS` (the SSRF guard's test-only setting, ignored in production);
the host list is skipped exactly when that setting lets a network through.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from statuspage.core.translation import N_
from statuspage.notifications import netguard
from statuspage.notifications.models import ChannelKind

DISCORD_HOSTS = frozenset(
    {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
)
TEAMS_HOST_SUFFIXES = (".logic.azure.com", ".powerplatform.com")

HINTS = {
    ChannelKind.SLACK: N_(
        "A Slack incoming-webhook URL starts with https://hooks.slack.com/services/."
    ),
    ChannelKind.DISCORD: N_("A Discord webhook URL starts with https://discord.com/api/webhooks/."),
    ChannelKind.TEAMS: N_(
        "A Teams Workflows webhook URL is on logic.azure.com or powerplatform.com "
        "(copy it from the workflow's 'When a Teams webhook request is received' step)."
    ),
}


def on_service_host(kind: ChannelKind, url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    path = parts.path
    if parts.scheme != "https" or parts.username or parts.password:
        return False
    if kind == ChannelKind.SLACK:
        return host == "hooks.slack.com" and path.startswith("/services/")
    if kind == ChannelKind.DISCORD:
        return host in DISCORD_HOSTS and path.startswith("/api/webhooks/")
    if kind == ChannelKind.TEAMS:
        return host.endswith(TEAMS_HOST_SUFFIXES) and "/workflows/" in path
    return False


def check_chat_url(kind: ChannelKind, url: str, policy: netguard.NetworkPolicy) -> str:
    """The URL, stripped, if a `kind` subscription may name it; UnsafeTarget (a DomainError
    on the `url` field) saying what such a URL looks like otherwise."""
    target = (url or "").strip()
    if not policy.allowed_networks and not on_service_host(kind, target):
        raise netguard.UnsafeTarget(HINTS[kind], field="url")
    netguard.check_url(target, policy)
    return target
