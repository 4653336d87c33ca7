"""Public pages for Slack, Microsoft Teams, Discord and SMS subscriptions, and Twilio's
inbound-message webhook (STOP). Thin views over `notifications.chat.subscriptions`; the
manage page (`/channel/<token>`) is the one every channel shares (`public/channels.py`).

- `/subscribe/slack|teams|discord`: a webhook URL of that service (its own host only, then
  the SSRF rules), active at once; the manage link is shown once.
- `/subscribe/sms` (only when Twilio is configured): the number gets a six-digit code by SMS;
  `/subscribe/sms/<token>` takes the code back, after which updates are sent. The token is
  the subscription's manage token, shown on that page so the reader can keep it.
- `/sms/inbound`: Twilio POSTs each reply to our number here, signed with
  X-Twilio-Signature; a valid STOP ends the number's subscriptions. Twilio itself answers
  STOP, START and HELP on long codes, so we reply with an empty TwiML response.

Subscribe forms share the email form's per-IP limit.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField, TelField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.core.languages import LANGUAGES
from statuspage.extensions import csrf, db
from statuspage.i18n import choose_language
from statuspage.notifications.channel_subscriptions import from_manage_token
from statuspage.notifications.chat import sms_optin
from statuspage.notifications.chat import subscriptions as chat_subscriptions
from statuspage.notifications.chat.sms import send_sms_text, twilio_settings
from statuspage.notifications.models import ChannelKind, ChannelStatus
from statuspage.notifications.netguard import MAX_URL_LENGTH, NetworkPolicy
from statuspage.public.blueprint import bp
from statuspage.public.subscriptions import (
    ChoicesForm,
    _field_error,
    _layout,
    _limiter,
    _private,
    _setting,
)

logger = logging.getLogger(__name__)

SERVICES = {
    "slack": {
        "kind": ChannelKind.SLACK,
        "name": "Slack",
        "where": _l(
            "In Slack, add the Incoming Webhooks app to a channel and copy its webhook URL "
            "(https://hooks.slack.com/services/…)."
        ),
    },
    "teams": {
        "kind": ChannelKind.TEAMS,
        "name": "Microsoft Teams",
        "where": _l(
            "In Teams, open the channel’s Workflows, choose “Post to a channel when a "
            "webhook request is received” and copy the URL it gives."
        ),
    },
    "discord": {
        "kind": ChannelKind.DISCORD,
        "name": "Discord",
        "where": _l(
            "In Discord, open the channel’s settings, Integrations, Webhooks, New Webhook, "
            "and copy its URL (https://discord.com/api/webhooks/…)."
        ),
    },
}
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _message_language() -> SelectField:
    """The language chat messages and texts are written in (the email form's field, named for
    messages)."""
    return SelectField(
        _l("Language of the messages"),
        choices=[SelectChoice(language.code, language.name) for language in LANGUAGES],
        validators=[Optional()],
    )


class ChatSubscribeForm(ChoicesForm):
    url = URLField(_l("Webhook URL"), validators=[InputRequired(), Length(max=MAX_URL_LENGTH)])
    language = _message_language()


class SmsSubscribeForm(ChoicesForm):
    phone = TelField(
        _l("Mobile number, with its country code"), validators=[InputRequired(), Length(max=40)]
    )
    language = _message_language()


class SmsCodeForm(FlaskForm):
    code = StringField(_l("The code we texted you"), validators=[InputRequired(), Length(max=20)])


def _limited() -> Response | None:
    if _limiter().hit(
        f"subscribe:ip:{request.remote_addr}",
        _setting("SUBSCRIBE_IP_LIMIT", 10),
        _setting("SUBSCRIBE_IP_WINDOW", 3600),
    ):
        return None
    response = current_app.make_response((render_template("public/subscribe_limited.html"), 429))
    response.headers["Retry-After"] = str(_setting("SUBSCRIBE_IP_WINDOW", 3600))
    return response


def _manage_url(token: str) -> str:
    return url_for("public.manage_channel", token=token, _external=True)


@bp.route("/subscribe/<any(slack, teams, discord):service>", methods=["GET", "POST"])
def subscribe_chat(service: str) -> Any:
    about = SERVICES[service]
    layout = _layout()
    form = ChatSubscribeForm()
    form.fill(layout)
    page = {"form": form, "layout": layout, "service": service, "about": about}
    if request.method == "GET":
        form.language.data = choose_language()  # messages in the page's language, preselected
        return render_template("public/chat_subscribe.html", **page)
    if (refused := _limited()) is not None:
        return refused
    if form.validate():
        try:
            created = chat_subscriptions.subscribe_chat(
                db.session,
                about["kind"],
                form.url.data or "",
                **form.chosen(),
                policy=NetworkPolicy.from_config(current_app.config),
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            return _private(
                render_template(
                    "public/chat_created.html",
                    about=about,
                    manage_url=_manage_url(created.manage_token),
                )
            )
    return render_template("public/chat_subscribe.html", **page), 400


def _sms_settings() -> Any:
    settings = twilio_settings(current_app.config)
    if settings is None:
        abort(404)
    return settings


@bp.route("/subscribe/sms", methods=["GET", "POST"])
def subscribe_sms() -> Any:
    settings = _sms_settings()
    layout = _layout()
    form = SmsSubscribeForm()
    form.fill(layout)
    if request.method == "GET":
        form.language.data = choose_language()  # texts in the page's language, preselected
        return render_template("public/sms_subscribe.html", form=form, layout=layout)
    if (refused := _limited()) is not None:
        return refused
    if form.validate():
        config = current_app.config
        try:
            created = chat_subscriptions.subscribe_sms(
                db.session,
                form.phone.data or "",
                secret_key=str(config["SECRET_KEY"]),
                **form.chosen(),
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            text = sms_optin.opt_in_text(
                str(config.get("SITE_NAME") or "Status"),
                created.code,
                form.language.data or str(config.get("DEFAULT_LANGUAGE") or ""),
            )
            sent = send_sms_text(
                settings,
                created.number,
                text,
                timeout=float(config.get("TWILIO_TIMEOUT") or 10.0),
            )
            if sent.ok:
                logger.info("Opt-in code sent for SMS subscription %d", created.subscription_id)
                code_form = SmsCodeForm(formdata=None)
                return _private(
                    render_template(
                        "public/sms_code.html",
                        form=code_form,
                        token=created.manage_token,
                        number=sms_optin.mask_number(created.number),
                        manage_url=_manage_url(created.manage_token),
                    )
                )
            logger.warning(
                "Opt-in code for SMS subscription %d not sent: %s",
                created.subscription_id,
                sent.error,
            )
            form.phone.errors = [
                _("We could not send a text to this number. Check it and try again.")
            ]
    return render_template("public/sms_subscribe.html", form=form, layout=layout), 400


@bp.route("/subscribe/sms/<token>", methods=["GET", "POST"])
def confirm_sms(token: str) -> Response:
    _sms_settings()
    subscription = from_manage_token(db.session, token)
    if subscription is None or subscription.kind != ChannelKind.SMS:
        abort(404, description=_("This subscription link is not valid."))
    form = SmsCodeForm()
    page = {
        "form": form,
        "token": token,
        "number": sms_optin.mask_number(subscription.target),
        "manage_url": _manage_url(token),
    }
    if subscription.status == ChannelStatus.ACTIVE:
        return _private(render_template("public/sms_confirmed.html", **page))
    if subscription.status != ChannelStatus.PENDING:
        return redirect(url_for("public.manage_channel", token=token))
    if request.method == "GET":
        return _private(render_template("public/sms_code.html", **page))
    status = 400
    if form.validate():
        try:
            verdict = chat_subscriptions.confirm_sms(
                db.session,
                subscription,
                form.code.data or "",
                secret_key=str(current_app.config["SECRET_KEY"]),
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            if verdict == sms_optin.CodeCheck.OK:
                return _private(render_template("public/sms_confirmed.html", **page))
            form.code.errors = [
                {
                    sms_optin.CodeCheck.WRONG: _("That is not the code we sent. Try again."),
                    sms_optin.CodeCheck.EXPIRED: _(
                        "That code has expired. Subscribe again to get a new one."
                    ),
                    sms_optin.CodeCheck.LOCKED: _(
                        "Too many wrong codes. Subscribe again to get a new one."
                    ),
                }[verdict]
            ]
    return _private(render_template("public/sms_code.html", **page), status)


@bp.route("/sms/inbound", methods=["POST"])
@csrf.exempt
def sms_inbound() -> Response:
    # Twilio signs the request with our auth token; nothing else may call this.
    settings = _sms_settings()
    signature = request.headers.get("X-Twilio-Signature")
    form = request.form.to_dict()
    if not sms_optin.valid_twilio_signature(settings.auth_token, request.url, form, signature):
        abort(403)
    keyword = sms_optin.classify_keyword(form.get("Body"), form.get("OptOutType"))
    if keyword == sms_optin.Keyword.STOP:
        chat_subscriptions.stop_number(db.session, form.get("From", ""), now=utcnow())
        db.session.commit()
    response = current_app.make_response((TWIML_EMPTY, 200))
    response.headers["Content-Type"] = "text/xml; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response
