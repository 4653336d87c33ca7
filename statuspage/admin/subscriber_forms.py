"""Forms for the subscriber pages. Shape only: the CSV itself is read by the domain."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField

CONFIRMED_HELP = (
    "Only when these people already agreed to these emails somewhere else. They are then "
    "active at once, recorded as confirmed by you. Otherwise each gets a confirmation email "
    "and hears nothing until they confirm."
)


class SubscriberImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
    mark_confirmed = BooleanField("These people already agreed: mark them confirmed")
