"""Admin view: the page's name, logo, favicon, colour, links and words (/admin/settings/page).

CONFIGURE permission. One form saves the text settings; the logo and the favicon are uploaded
or removed by forms of their own. Each refusal is shown next to its field, nothing saved.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import FieldList, FormField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.auth.permissions import Permission
from statuspage.branding import settings as branding
from statuspage.core.db import utcnow
from statuspage.extensions import db

Page = str | tuple[str, int] | Response


class LinkForm(FlaskForm):
    class Meta:
        csrf = False  # part of PageForm, which carries the token

    label = StringField(_l("Label"), validators=[Optional(), Length(max=60)])
    url = StringField(_l("Address"), validators=[Optional(), Length(max=branding.URL_MAX)])


class PageForm(FlaskForm):
    name = StringField(_l("Page name"), validators=[Optional(), Length(max=branding.NAME_MAX)])
    about = TextAreaField(
        _l("About this page"), validators=[Optional(), Length(max=branding.ABOUT_MAX)]
    )
    brand_color = StringField(_l("Brand colour"), validators=[Optional(), Length(max=7)])
    support_url = StringField(_l("Support link"), validators=[Optional()])
    contact_url = StringField(_l("Contact link"), validators=[Optional()])
    time_zone = StringField(_l("Time zone"), validators=[Optional(), Length(max=64)])
    email_sender_name = StringField(
        _l("Sender name of emails"), validators=[Optional(), Length(max=120)]
    )
    footer_links = FieldList(FormField(LinkForm), min_entries=branding.FOOTER_LINKS_MAX)


class ImageForm(FlaskForm):
    file = FileField(_l("File"))


def _render(form: PageForm, logo_form: ImageForm, favicon_form: ImageForm) -> str:
    page = branding.effective_page(db.session, current_app.config)
    return render_template(
        "admin/settings/page.html",
        form=form,
        logo_form=logo_form,
        favicon_form=favicon_form,
        brand=page,
        remove=EmptyForm(),
        default_color=branding.DEFAULT_BRAND_COLOR,
    )


def _filled_form() -> PageForm:
    stored = branding.stored_page(db.session)
    form = PageForm(obj=stored)
    if not form.is_submitted():
        links = list(stored.footer_links or [])
        for entry, link in zip(form.footer_links.entries, links, strict=False):
            entry.form.label.data = link.get("label", "")
            entry.form.url.data = link.get("url", "")
    return form


@bp.get("/settings/page")
def page_settings() -> str:
    require(Permission.CONFIGURE)
    form = _filled_form()
    db.session.rollback()  # reading may have made the empty row; nothing to keep
    return _render(form, ImageForm(prefix="logo"), ImageForm(prefix="favicon"))


@bp.post("/settings/page")
def save_page_settings() -> Page:
    require(Permission.CONFIGURE)
    form = PageForm()
    if form.validate_on_submit():
        values = branding.PageFields(
            name=form.name.data or "",
            about=form.about.data or "",
            brand_color=form.brand_color.data or "",
            support_url=form.support_url.data or "",
            contact_url=form.contact_url.data or "",
            time_zone=form.time_zone.data or "",
            email_sender_name=form.email_sender_name.data or "",
            footer_links=[
                (entry.form.label.data or "", entry.form.url.data or "")
                for entry in form.footer_links.entries
            ],
        )
        saved = run_domain(
            lambda: branding.update_page(db.session, values, actor_id=actor_id(), now=utcnow()),
            form=form,
        )
        if not saved.refused:
            flash(gettext("Page settings saved; readers see them now."))
            return redirect(url_for("admin.page_settings"))
    return _render(form, ImageForm(prefix="logo"), ImageForm(prefix="favicon")), 400


@bp.post("/settings/page/<any(logo, favicon):kind>")
def upload_page_image(kind: str) -> Page:
    require(Permission.CONFIGURE)
    form = ImageForm(prefix=kind)
    limit = branding.LOGO_MAX_BYTES if kind == "logo" else branding.FAVICON_MAX_BYTES
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(limit + 1) if upload else b""
        saved = run_domain(
            lambda: branding.set_image(db.session, kind, data, actor_id=actor_id(), now=utcnow()),  # type: ignore[arg-type]
            form=form,
            fallback="file",
        )
        if not saved.refused:
            flash(gettext("Logo saved.") if kind == "logo" else gettext("Favicon saved."))
            return redirect(url_for("admin.page_settings"))
    forms = {"logo": ImageForm(prefix="logo"), "favicon": ImageForm(prefix="favicon")}
    forms[kind] = form
    return _render(_filled_form(), forms["logo"], forms["favicon"]), 400


@bp.post("/settings/page/<any(logo, favicon):kind>/remove")
def remove_page_image(kind: str) -> Response:
    require(Permission.CONFIGURE)
    if EmptyForm().validate_on_submit():
        run_domain(
            lambda: branding.set_image(db.session, kind, None, actor_id=actor_id(), now=utcnow())  # type: ignore[arg-type]
        )
        flash(gettext("Removed."))
    return redirect(url_for("admin.page_settings"))
