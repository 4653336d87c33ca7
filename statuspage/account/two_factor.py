"""Two-factor pages: the account page where staff turn TOTP on and off, and the login's second
step. Thin views over `statuspage.auth.second_factor`, on the account blueprint.

- **Login**: after a right password for an account with two-factor on, the session holds only
  a pending-login marker (`login_steps.begin_pending_login`). A right code within
  `TWO_FACTOR_PENDING_SECONDS` (300) starts the real login (`login_steps.complete_login`);
  after that the person starts again from the password.
- **Attempts**: every code tried for an account counts against `TWO_FACTOR_ATTEMPT_LIMIT` (5)
  per `TWO_FACTOR_ATTEMPT_WINDOW` (900 s), per account whatever the browser or address, in the
  login form's limiter (`account/login_limits.py`: Redis when `REDIS_URL` is set, with this
  process's memory as the fallback). Over the limit the page answers 429 and no code is
  checked, a right one included.
- **Enrolment** (`/account/two-factor`): "Set up" makes a secret, shown (as text and as an
  `otpauth://` URI) only until a code from it is confirmed; disabling needs the password and a
  code. Pages showing a secret are not cached.
- **Required for admins**: with `REQUIRE_2FA_FOR_ADMINS` on, the admin blueprint's guard sends
  an admin without two-factor here (`enrolment_required`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from statuspage.account import login_limits
from statuspage.account.blueprint import bp
from statuspage.account.forms import EmptyForm
from statuspage.account.login_steps import complete_login, pending_user_id, safe_next
from statuspage.auth import second_factor, totp
from statuspage.auth.models import User
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.i18n import refusal_text

logger = logging.getLogger(__name__)

DEFAULT_ATTEMPT_LIMIT = 5
DEFAULT_ATTEMPT_WINDOW = 900

Page = str | tuple[str, int] | Response


def _code_field() -> StringField:
    return StringField(
        _l("Code from your authenticator app"),
        validators=[DataRequired(message=_l("Enter the six-digit code.")), Length(max=16)],
    )


class CodeForm(FlaskForm):
    code = _code_field()


class DisableForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=1024)])
    code = _code_field()


# Settings and helpers.


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name) or default)


def _flag(name: str) -> bool:
    value = current_app.config.get(name, False)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def secret_keys() -> list[str | bytes]:
    """The current SECRET_KEY first (it encrypts), then the fallbacks kept while rotating."""
    return [current_app.secret_key, *(current_app.config.get("SECRET_KEY_FALLBACKS") or [])]


def _attempt_allowed(user_id: int) -> bool:
    # One limiter with the password step's limits (account/login_limits.py): Redis when
    # REDIS_URL is set, this process's memory when Redis does not answer.
    allowed = login_limits.login_limiter().hit(
        f"login:two-factor:user:{user_id}",
        _setting("TWO_FACTOR_ATTEMPT_LIMIT", DEFAULT_ATTEMPT_LIMIT),
        _setting("TWO_FACTOR_ATTEMPT_WINDOW", DEFAULT_ATTEMPT_WINDOW),
    )
    if not allowed:
        logger.warning("user %s: two-factor attempt limit reached", user_id)
    return allowed


def _limited(response: Response) -> Response:
    """Too many codes tried for this account: 429, and when to try again."""
    response.status_code = 429
    response.headers["Retry-After"] = str(
        _setting("TWO_FACTOR_ATTEMPT_WINDOW", DEFAULT_ATTEMPT_WINDOW)
    )
    return response


def _private(body: Any, status: int = 200) -> Response:
    """Never cached: the page may hold a secret or a login under way."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def enrolment_required() -> bool:
    """Whether the logged-in user must set up two-factor before using the admin area."""
    return bool(
        current_user.is_authenticated
        and second_factor.is_required(
            current_user, require_for_admins=_flag("REQUIRE_2FA_FOR_ADMINS")
        )
    )


# The login's second step.


@bp.route("/login/two-factor", methods=["GET", "POST"])
def login_code() -> Page:
    next_page = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_page))
    user_id, expired = pending_user_id()
    if user_id is None:
        if expired:
            flash(gettext("That took too long: log in again with your password, then the code."))
        return redirect(url_for("auth.login", next=next_page))
    form = CodeForm()
    if form.validate_on_submit():
        if not _attempt_allowed(user_id):
            page = render_template("auth/login_code.html", form=form, limited=True)
            return _limited(_private(page))
        accepted = second_factor.verify_login(
            db.session, user_id, form.code.data or "", secret_keys=secret_keys(), now=utcnow()
        )
        user = db.session.get(User, user_id) if accepted else None
        if user is not None:
            logger.info("user %s passed two-factor at login", user_id)
            return complete_login(user)  # commits the used-up step with the login
        db.session.rollback()
        form.code.errors = [*form.code.errors, gettext(second_factor.WRONG_CODE)]
    status = 200 if request.method == "GET" else 400
    return _private(render_template("auth/login_code.html", form=form), status)


# The account page.


def _require_login() -> None:
    if not current_user.is_authenticated:
        abort(401)


def _login_redirect() -> Response:
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _render_account(status: int = 200, **overrides: Any) -> Response:
    user: User = current_user
    secret = second_factor.pending_secret(user, secret_keys=secret_keys())
    uri = (
        totp.provisioning_uri(secret, account=user.email, issuer=current_app.config["SITE_NAME"])
        if secret
        else None
    )
    forms: dict[str, Any] = {
        "button_form": EmptyForm(),
        "confirm_form": CodeForm(prefix="confirm"),
        "disable_form": DisableForm(prefix="disable"),
        "action_error": None,
        "limited": False,
    }
    forms.update(overrides)
    page = render_template(
        "auth/two_factor.html",
        user=user,
        secret=secret,
        uri=uri,
        required=second_factor.is_required(
            user, require_for_admins=_flag("REQUIRE_2FA_FOR_ADMINS")
        ),
        required_for_admins=_flag("REQUIRE_2FA_FOR_ADMINS"),
        **forms,
    )
    return _private(page, status)


@bp.get("/account/two-factor")
def two_factor() -> Page:
    if not current_user.is_authenticated:
        return _login_redirect()
    return _render_account()


@bp.post("/account/two-factor/setup")
def two_factor_setup() -> Page:
    _require_login()
    form = EmptyForm()
    if not form.validate_on_submit():
        return _render_account(400, button_form=form)
    try:
        second_factor.start_enrolment(
            db.session, int(current_user.id), secret_keys=secret_keys(), now=utcnow()
        )
    except second_factor.TwoFactorError as error:
        db.session.rollback()
        return _render_account(409, action_error=refusal_text(error))
    db.session.commit()
    return redirect(url_for("auth.two_factor"))


@bp.post("/account/two-factor/confirm")
def two_factor_confirm() -> Page:
    _require_login()
    form = CodeForm(prefix="confirm")
    if form.validate_on_submit():
        try:
            second_factor.confirm_enrolment(
                db.session,
                int(current_user.id),
                form.code.data or "",
                secret_keys=secret_keys(),
                now=utcnow(),
            )
        except second_factor.TwoFactorError as error:
            db.session.rollback()
            if error.field is None:
                return _render_account(409, action_error=refusal_text(error))
            form.code.errors = [*form.code.errors, refusal_text(error)]
        else:
            db.session.commit()
            flash(gettext("Two-factor authentication is on: each login now asks for a code."))
            return redirect(url_for("auth.two_factor"))
    return _render_account(400, confirm_form=form)


@bp.post("/account/two-factor/cancel")
def two_factor_cancel() -> Page:
    _require_login()
    form = EmptyForm()
    if not form.validate_on_submit():
        return _render_account(400, button_form=form)
    second_factor.cancel_enrolment(db.session, int(current_user.id))
    db.session.commit()
    flash(gettext("Set-up cancelled."))
    return redirect(url_for("auth.two_factor"))


@bp.post("/account/two-factor/disable")
def two_factor_disable() -> Page:
    _require_login()
    form = DisableForm(prefix="disable")
    if form.validate_on_submit():
        if not _attempt_allowed(int(current_user.id)):
            return _limited(_render_account(disable_form=form, limited=True))
        try:
            second_factor.disable_two_factor(
                db.session,
                int(current_user.id),
                password=form.password.data or "",
                code=form.code.data or "",
                secret_keys=secret_keys(),
                now=utcnow(),
            )
        except second_factor.TwoFactorError as error:
            db.session.rollback()
            if error.field is None:
                return _render_account(409, action_error=refusal_text(error))
            field = getattr(form, error.field)
            field.errors = [*field.errors, refusal_text(error)]
        else:
            db.session.commit()
            flash(gettext("Two-factor authentication is off."))
            return redirect(url_for("auth.two_factor"))
    return _render_account(400, disable_form=form)
