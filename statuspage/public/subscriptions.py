"""Public subscription pages: subscribe, confirm, manage, unsubscribe. Thin views over
`statuspage.notifications.subscriptions`.

- The subscribe form answers with the same page whatever the address (new, unconfirmed,
  confirmed, or over its email limit): nothing on it tells whether an address is subscribed.
  Emails leave from the worker (`worker.subscriptions`), after the commit.
- Rate limits (`statuspage.core.ratelimit`; Redis when `REDIS_URL` is set): per client IP
  (`SUBSCRIBE_IP_LIMIT` per `SUBSCRIBE_IP_WINDOW` seconds, 10 an hour), answered with 429; per
  address (`SUBSCRIBE_ADDRESS_LIMIT` per `SUBSCRIBE_ADDRESS_WINDOW`, 3 a day), answered with
  the usual page and no email.
- `POST /unsubscribe/<token>` is the RFC 8058 one-click unsubscribe mail clients send: no
  cookie, no CSRF token (exempt), 200 without a redirect, idempotent, and it sets no cookie.
  `GET` on the same address only shows a button, because link scanners fetch links.
- The confirmation link works the same way: `GET` shows a button, its `POST` (to the same
  address, the token being the credential) confirms.
- Pages reached by a token are not cached and send no Referer, so the token stays private.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, RadioField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from statuspage.audiences import access
from statuspage.components import queries as component_queries
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.core.languages import LANGUAGES
from statuspage.core.ratelimit import RateLimiter, limiter_from_config
from statuspage.extensions import csrf, db
from statuspage.i18n import choose_language, default_language, refusal_text
from statuspage.notifications import subscriptions
from statuspage.notifications.models import Subscriber
from statuspage.public.blueprint import bp
from statuspage.public.readers import current_reader

logger = logging.getLogger(__name__)

SCOPES = [
    SelectChoice("all", _l("All components")),
    SelectChoice("some", _l("Only the components and groups I choose")),
]


class ChoicesForm(FlaskForm):
    scope = RadioField(_l("What to hear about"), choices=SCOPES, default="all")
    # The language emails are written in (templates/public/_subscriber_language.html).
    language = SelectField(
        _l("Language of the emails"),
        choices=[SelectChoice(language.code, language.name) for language in LANGUAGES],
        validators=[Optional()],
    )
    components = SelectMultipleField(_l("Components"), coerce=int)
    groups = SelectMultipleField(_l("Groups"), coerce=int)

    def fill(self, layout: list[tuple[Any, list[Any]]]) -> None:
        self.components.choices = [SelectChoice(c.id, c.name) for _, items in layout for c in items]
        self.groups.choices = [
            SelectChoice(group.id, group.name) for group, _members in layout if group
        ]

    def chosen(self) -> dict[str, Any]:
        everything = self.scope.data != "some"
        return {
            "all_components": everything,
            "component_ids": [] if everything else list(self.components.data or []),
            "group_ids": [] if everything else list(self.groups.data or []),
            "language": self.language.data or "",
        }


class SubscribeForm(ChoicesForm):
    email = EmailField(_l("Email address"), validators=[InputRequired(), Length(max=254)])


class ManageForm(ChoicesForm):
    pass


class UnsubscribeForm(FlaskForm):
    """The manage page's unsubscribe button: carries the CSRF token."""


def _layout() -> list[tuple[Any, list[Any]]]:
    """Publicly shown components by group (None: those outside any group), in page order."""
    components = component_queries.shown_components(db.session)
    return [
        (items[0].group, items)
        for _, grouped in itertools.groupby(components, key=lambda c: c.group_id)
        if (items := list(grouped))
    ]


def _limiter() -> RateLimiter:
    extensions = current_app.extensions
    if "statuspage.ratelimit" not in extensions:
        extensions["statuspage.ratelimit"] = limiter_from_config(current_app.config)
    return extensions["statuspage.ratelimit"]


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name) or default)


def _private(response: Any, status: int = 200) -> Response:
    """No caching and no Referer: the page's address holds a token."""
    response = current_app.make_response((response, status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _field_error(form: FlaskForm, error: DomainError) -> None:
    field = form._fields.get(error.field or "")
    if field is not None:
        field.errors = [*field.errors, refusal_text(error)]
    else:
        form.form_errors.append(refusal_text(error))


def _subscriber_or_404(token: str) -> Subscriber:
    subscriber = subscriptions.subscriber_from_manage_token(
        db.session, current_app.config["SECRET_KEY"], token
    )
    if subscriber is None:
        abort(404, description=_("This subscription link is not valid."))
    return subscriber


def _enqueue(subscriber_id: int, kind: str) -> None:
    from statuspage.worker.subscriptions import send_subscription_email_task

    try:
        send_subscription_email_task(subscriber_id, kind)
    except Exception:
        # The subscription is committed; the person can ask again. Never fail the page on it.
        logger.exception("Subscriber %d: could not queue the %s email", subscriber_id, kind)


def _member_audiences(subscriber_id: int) -> None:
    """A member subscribing also hears their audiences' updates: those of their audiences
    that the subscribed address belongs to (the address they signed in with belongs to all of
    them). Anyone else's address typed here gets public email only."""
    reader = current_reader()
    if not reader.member:
        return
    address = db.session.get(Subscriber, subscriber_id)
    if address is None:
        return
    allowed = set(access.audiences_for_email(db.session, address.email))
    if reader.email is not None and reader.email == address.email:
        allowed |= reader.audience_ids
    subscriptions.add_audiences(
        db.session, subscriber_id, sorted(allowed & reader.audience_ids), now=utcnow()
    )


@bp.route("/subscribe", methods=["GET", "POST"])
def subscribe() -> Any:
    layout = _layout()
    form = SubscribeForm()
    form.fill(layout)
    if request.method == "GET":
        if current_reader().email and not form.email.data:
            form.email.data = current_reader().email
        form.language.data = choose_language()  # the page's language, preselected
        return render_template("public/subscribe.html", form=form, layout=layout)
    if not _limiter().hit(
        f"subscribe:ip:{request.remote_addr}",
        _setting("SUBSCRIBE_IP_LIMIT", 10),
        _setting("SUBSCRIBE_IP_WINDOW", 3600),
    ):
        logger.info("Subscribe form: per-IP limit reached")
        response = current_app.make_response(
            (render_template("public/subscribe_limited.html"), 429)
        )
        response.headers["Retry-After"] = str(_setting("SUBSCRIBE_IP_WINDOW", 3600))
        return response
    if form.validate():
        try:
            outcome = subscriptions.subscribe(
                db.session,
                form.email.data or "",
                **form.chosen(),
                now=utcnow(),
                limiter=_limiter(),
                address_limit=_setting("SUBSCRIBE_ADDRESS_LIMIT", 3),
                address_window=_setting("SUBSCRIBE_ADDRESS_WINDOW", 86400),
            )
        except DomainError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            _member_audiences(outcome.subscriber_id)
            db.session.commit()
            if outcome.email is not None:
                _enqueue(outcome.subscriber_id, outcome.email.value)
            return render_template("public/subscribe_sent.html")
    return render_template("public/subscribe.html", form=form, layout=layout), 400


@bp.route("/subscribe/confirm/<token>", methods=["GET", "POST"])
@csrf.exempt
def confirm_subscription(token: str) -> Response:
    # GET only asks (mail scanners follow every link in an email); the page's button POSTs to
    # the same address. The signed token in the address is the credential, as for the
    # one-click unsubscribe: a cross-site page cannot forge it, so no CSRF token is needed,
    # and the person may open the link in another browser than the one they subscribed in.
    config = current_app.config
    act = subscriptions.confirm if request.method == "POST" else subscriptions.check_confirmation
    try:
        outcome = act(
            db.session,
            config["SECRET_KEY"],
            token,
            max_age=_setting("SUBSCRIPTION_CONFIRM_MAX_AGE", subscriptions.DEFAULT_CONFIRM_MAX_AGE),
            now=utcnow(),
        )
    except subscriptions.TokenError as error:
        db.session.rollback()
        return _private(
            render_template(
                "public/subscription_invalid.html",
                message=refusal_text(error),
                expired=error.expired,
            ),
            400,
        )
    if request.method == "GET" and outcome.newly_confirmed:
        return _private(render_template("public/subscription_confirm.html", token=token))
    db.session.commit()
    manage = url_for(
        "public.manage_subscription",
        token=subscriptions.manage_token(config["SECRET_KEY"], outcome.subscriber.id),
    )
    return _private(
        render_template(
            "public/subscription_confirmed.html",
            newly_confirmed=outcome.newly_confirmed,
            manage_url=manage,
        )
    )


@bp.route("/subscription/<token>", methods=["GET", "POST"])
def manage_subscription(token: str) -> Response:
    subscriber = _subscriber_or_404(token)
    layout = _layout()
    form = ManageForm()
    form.fill(layout)
    leave = UnsubscribeForm(prefix="leave")
    status = 200
    if request.method == "GET":
        form.scope.data = "all" if subscriber.all_components else "some"
        form.components.data = [c.id for c in subscriber.components]
        form.groups.data = [g.id for g in subscriber.groups]
        form.language.data = subscriber.language or default_language()
    elif request.form.get("action") == "unsubscribe":
        if not leave.validate():
            abort(400, description=_("The form expired. Please reload the page and try again."))
        subscriptions.unsubscribe(db.session, subscriber, now=utcnow())
        db.session.commit()
        flash(_("You are unsubscribed. You will receive no more emails from us."))
        return redirect(url_for("public.manage_subscription", token=token))
    elif form.validate():
        try:
            subscriptions.update_choices(db.session, subscriber, **form.chosen(), now=utcnow())
        except DomainError as error:
            db.session.rollback()
            _field_error(form, error)
            status = 409 if subscriber.unsubscribed_at is not None else 400
        else:
            db.session.commit()
            flash(_("Your choices are saved."))
            return redirect(url_for("public.manage_subscription", token=token))
    else:
        status = 400
    return _private(
        render_template(
            "public/subscription_manage.html",
            form=form,
            leave=leave,
            layout=layout,
            subscriber=subscriber,
            masked=subscriptions.mask_email(subscriber.email),
            token=token,
        ),
        status,
    )


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> Response:
    subscriber = _subscriber_or_404(token)
    return _private(
        render_template(
            "public/unsubscribe.html",
            token=token,
            already=subscriber.unsubscribed_at is not None,
        )
    )


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe_one_click(token: str) -> Response:
    # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" with no cookies; the signed
    # token in the address is the only credential, so there is no CSRF to protect against.
    subscriber = _subscriber_or_404(token)
    subscriptions.unsubscribe(db.session, subscriber, now=utcnow())
    db.session.commit()
    return _private(
        render_template(
            "public/unsubscribe_done.html",
            manage_url=url_for("public.manage_subscription", token=token),
        )
    )
