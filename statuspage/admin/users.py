"""Admin views: staff accounts. Admins only (MANAGE_USERS), reading included.

Disabling an account or resetting its password ends its sessions at once
(`statuspage.auth.users`); the last active admin can be neither demoted nor disabled. An admin
can reset someone's two-factor (a lost phone; audited, `statuspage.auth.second_factor`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.forms import enum_choices, options
from statuspage.admin.settings_forms import show_domain_error
from statuspage.auth import second_factor
from statuspage.auth import users as accounts
from statuspage.auth.models import Role, User
from statuspage.auth.passwords import MIN_PASSWORD_LENGTH
from statuspage.auth.permissions import ROLE_PERMISSIONS, Permission
from statuspage.auth.queries import list_users
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError, NotFound
from statuspage.extensions import db
from statuspage.i18n import refusal_text

LIST_LIMIT = 500
ROLE_CHOICES = enum_choices(Role)
PASSWORD_HELP = f"At least {MIN_PASSWORD_LENGTH} characters. Tell the person in person or by phone."

Page = str | tuple[str, int] | Response


class NewUserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=accounts.EMAIL_MAX)])
    name = StringField(_l("Name"), validators=[Length(max=accounts.NAME_MAX)])
    role = SelectField(_l("Role"), choices=options(ROLE_CHOICES), default=Role.VIEWER.value)
    password = PasswordField(
        _l("Initial password"), validators=[DataRequired(), Length(max=accounts.PASSWORD_MAX)]
    )
    confirm = PasswordField(
        _l("Password again"), validators=[EqualTo("password", message=_l("The passwords differ."))]
    )


class RoleChangeForm(FlaskForm):
    role = SelectField(_l("Role"), choices=options(ROLE_CHOICES))


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(max=accounts.PASSWORD_MAX)]
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[EqualTo("password", message=_l("The passwords differ."))],
    )


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users")
def users() -> str:
    require(Permission.MANAGE_USERS)
    rows = list_users(db.session, limit=LIST_LIMIT)
    return render_template("admin/users/list.html", users=rows, limit=LIST_LIMIT)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> Page:
    require(Permission.MANAGE_USERS)
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            created = accounts.add_user(
                db.session,
                email=form.email.data or "",
                password=form.password.data or "",
                role=form.role.data,
                name=form.name.data or "",
                actor_id=actor_id(),
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error, "email")
        else:
            db.session.commit()
            flash(
                gettext(
                    "Account %(email)s created as %(role)s.",
                    email=created.email,
                    role=created.role.value,
                )
            )
            return redirect(url_for("admin.user", user_id=created.id))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/users/new.html", form=form, password_help=PASSWORD_HELP, roles=ROLE_PERMISSIONS
    ), status


def _render_user(user: User, status: int = 200, **overrides: Any) -> tuple[str, int]:
    forms: dict[str, Any] = {
        "role_form": RoleChangeForm(prefix="role", data={"role": user.role.value}),
        "password_form": PasswordResetForm(prefix="password"),
        "button_form": EmptyForm(),
        "status_error": None,
    }
    forms.update(overrides)
    return render_template(
        "admin/users/detail.html",
        user=user,
        password_help=PASSWORD_HELP,
        roles=ROLE_PERMISSIONS,
        **forms,
    ), status


@bp.get("/users/<int:user_id>")
def user(user_id: int) -> Page:
    require(Permission.MANAGE_USERS)
    return _render_user(_user_or_404(user_id))


def _act(user_id: int, form: FlaskForm, form_name: str, action: Any, message: str) -> Page:
    """Validate, run one domain call, commit once; a refusal goes back onto the form."""
    require(Permission.MANAGE_USERS)
    _user_or_404(user_id)
    if form.validate_on_submit():
        try:
            action(form)
        except NotFound:
            db.session.rollback()
            abort(404)
        except DomainError as error:
            db.session.rollback()
            found = _user_or_404(user_id)
            if error.field is None:
                # A refusal of the whole action (the last admin), not of one input.
                return _render_user(found, 409, status_error=refusal_text(error))
            show_domain_error(form, error, None)
        else:
            db.session.commit()
            flash(message)
            return redirect(url_for("admin.user", user_id=user_id))
    return _render_user(_user_or_404(user_id), 400, **{form_name: form})


@bp.post("/users/<int:user_id>/role")
def change_user_role(user_id: int) -> Page:
    return _act(
        user_id,
        RoleChangeForm(prefix="role"),
        "role_form",
        lambda form: accounts.change_role(
            db.session, user_id, form.role.data, actor_id=actor_id(), now=utcnow()
        ),
        gettext("Role changed."),
    )


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id: int) -> Page:
    return _act(
        user_id,
        EmptyForm(),
        "button_form",
        lambda form: accounts.disable_user(db.session, user_id, actor_id=actor_id(), now=utcnow()),
        gettext("Account disabled; its sessions have ended."),
    )


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id: int) -> Page:
    return _act(
        user_id,
        EmptyForm(),
        "button_form",
        lambda form: accounts.enable_user(db.session, user_id, actor_id=actor_id(), now=utcnow()),
        gettext("Account enabled."),
    )


@bp.post("/users/<int:user_id>/password")
def reset_user_password(user_id: int) -> Page:
    return _act(
        user_id,
        PasswordResetForm(prefix="password"),
        "password_form",
        lambda form: accounts.reset_password(
            db.session, user_id, form.password.data or "", actor_id=actor_id(), now=utcnow()
        ),
        gettext("Password reset; the account's sessions have ended."),
    )


@bp.post("/users/<int:user_id>/two-factor/reset")
def reset_user_two_factor(user_id: int) -> Page:
    return _act(
        user_id,
        EmptyForm(),
        "button_form",
        lambda form: second_factor.reset_two_factor(
            db.session, user_id, actor_id=actor_id(), now=utcnow()
        ),
        "Two-factor turned off for this account; they can set it up again.",
    )
