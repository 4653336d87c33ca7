"""The staff member's language: a choice on the account page, kept in the same cookie the
public language switcher sets (`statuspage.i18n.COOKIE`), so `choose_language()` applies it to
every page (`?lang=` in a URL still wins for that page). A cookie, not the account, so it needs
no migration and also follows the browser onto the public pages.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from statuspage.account.blueprint import bp
from statuspage.core.languages import LANGUAGES
from statuspage.i18n import choose_language, remember_language


class LanguageForm(FlaskForm):
    # Each language named in itself: whoever cannot read the current one still finds theirs.
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice(option.code, option.name) for option in LANGUAGES],
        validators=[InputRequired()],
    )


def _render(form: LanguageForm, status: int = 200) -> tuple[str, int]:
    return render_template("auth/language.html", form=form), status


@bp.route("/account/language", methods=["GET", "POST"])
def language() -> str | tuple[str, int] | Response:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("auth.language")))
    form = LanguageForm()
    if not form.is_submitted():
        form.language.data = choose_language()
        return _render(form)
    if not form.validate():
        return _render(form, 400)
    code = str(form.language.data)
    with force_locale(code):
        flash(gettext("Pages are now shown in this language."))
    response = redirect(url_for("auth.language"))
    return remember_language(response, code)
