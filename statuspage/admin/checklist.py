"""The "set up your page" checklist staff see until the page is ready, and the warning that
SLA breaches alert nobody. Each item is read from the package that owns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from statuspage.auth.models import Role
from statuspage.branding.settings import effective_page
from statuspage.components.queries import listed_component_count
from statuspage.config import SETTINGS_BY_NAME
from statuspage.extensions import db
from statuspage.incidents.queries import priorities_without_escalation

DEFAULT_SENDER = SETTINGS_BY_NAME["MAIL_FROM"].default


@dataclass(frozen=True)
class Item:
    done: bool
    label: str
    detail: str
    url: str


@dataclass(frozen=True)
class Checklist:
    items: list[Item]
    unescalated: list[str]  # priorities whose breaches alert nobody

    @property
    def open(self) -> bool:
        return any(not item.done for item in self.items)


def setup_checklist() -> Checklist:
    config: Any = current_app.config
    components = listed_component_count(db.session)
    page = effective_page(db.session, config)
    unescalated = [p.value for p in priorities_without_escalation(db.session)]
    sender = str(config.get("MAIL_FROM") or DEFAULT_SENDER)
    items = [
        Item(
            components > 0,
            gettext("Add your components"),
            ngettext("%(num)d listed", "%(num)d listed", components)
            if components
            else gettext("Readers see “no components yet”."),
            url_for("admin.components"),
        ),
        Item(
            page.customized,
            gettext("Name and brand your page"),
            gettext("Name, logo, colour, support link."),
            url_for("admin.page_settings"),
        ),
        Item(
            sender != DEFAULT_SENDER,
            gettext("Set the sender address of emails"),
            gettext(
                "MAIL_FROM is %(sender)s: subscribers' mail would come from it.", sender=sender
            ),
            url_for("admin.settings"),
        ),
        Item(
            not unescalated,
            gettext("Name who is told of an SLA breach"),
            gettext("Missing for %(priorities)s", priorities=", ".join(unescalated))
            if unescalated
            else gettext("Set for every priority."),
            url_for("admin.sla_policies"),
        ),
    ]
    if current_user.role == Role.ADMIN:
        items.append(
            Item(
                current_user.has_two_factor,
                gettext("Turn on two-factor for your account"),
                gettext("Admins can change everything; protect the account."),
                url_for("auth.two_factor"),
            )
        )
    return Checklist(items=items, unescalated=unescalated)
