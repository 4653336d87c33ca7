"""Forms for the subscriber pages. Shape only: the CSV itself is read by the domain."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField

CONFIRMED_HELP = _l(
    "Only when these people already agreed to these emails somewhere else. They are then "
    "active at once, recorded as confirmed by you. Otherwise each gets a confirmation email "
    "and hears nothing until they confirm."
)


class SubscriberImportForm(FlaskForm):
    # Required unless the form confirms a preview (`upload_id`); the view checks which.
    file = FileField(_l("CSV file"))
    mark_confirmed = BooleanField(_l("These people already agreed: mark them confirmed"))
    upload_id = HiddenField()
