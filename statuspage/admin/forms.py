"""Forms for the staff area. Validation here is about shape; the domain checks meaning."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from statuspage.account.time_zone import ENTRY_FORMAT, entry_time, entry_zone
from statuspage.core import vocabulary
from statuspage.incidents.models import (
    IncidentRole,
    IncidentSource,
    IncidentStatus,
    Level,
    LinkKind,
    Priority,
    ResolutionCode,
    TaskKind,
    TaskStatus,
)
from statuspage.incidents.reviews import parse_timeline_time, timeline_time


def options(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def lazy_term(member: object) -> LazyString:
    """An enum member's words (core/vocabulary.TERMS), translated when shown: for choices
    built once at import and shown in each staff member's language."""
    return LazyString(lambda: gettext(vocabulary.term_of(member)))


def enum_choices(members: Iterable[Any]) -> list[tuple[str, LazyString]]:
    """(value, words) for select options of enum members, words in the page's language."""
    return [(member.value, lazy_term(member)) for member in members]


def _choices(enum_class, blank: str | None = None) -> list[SelectChoice]:  # type: ignore[no-untyped-def]
    items: list[tuple[str, Any]] = enum_choices(enum_class)
    return options(([("", blank)] + items) if blank is not None else items)


def as_utc(value: datetime | None) -> datetime | None:
    """A form's time in UTC. `ZonedDateTimeField` gives aware times already; a naive one is
    taken as UTC."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ZonedDateTimeField(DateTimeLocalField):
    """A date and time typed in the staff member's zone (`account.time_zone.entry_zone`: theirs,
    else the page's, else UTC); `data` is the moment in UTC.

    `{zone}` in the label and in validator messages is replaced by the zone's name, so the
    field says which zone it means. Shown for editing, a stored time is converted to the zone.
    Daylight saving: a local time that does not exist (the hour the clocks skip) is a field
    error; one that happens twice (the hour the clocks repeat) is read as the first of the two
    (fold=0), the earlier moment in UTC.
    """

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("format", ENTRY_FORMAT)
        super().__init__(label, validators, **kwargs)
        self.zone_name = entry_zone()
        self.label.text = self.label.text.replace("{zone}", self.zone_name)

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is None:
            return
        local = self.data
        zone = ZoneInfo(self.zone_name)
        moment = local.replace(tzinfo=zone, fold=0)
        if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
            self.data = None
            raise ValueError(
                gettext(
                    "%(time)s does not exist in %(zone)s: the clocks skip that hour. "
                    "Give a time before or after it.",
                    time=f"{local:%Y-%m-%d %H:%M}",
                    zone=self.zone_name,
                )
            )
        self.data = moment.astimezone(UTC)

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return entry_time(self.data, self.zone_name)

    def validate(self, form: Any, extra_validators: Any = ()) -> bool:
        valid = super().validate(form, extra_validators)
        self.errors = [str(error).replace("{zone}", self.zone_name) for error in self.errors]
        return valid


def optional_int(value: str | None) -> int | None:
    return int(value) if value not in (None, "", "None") else None


class VersionedForm(FlaskForm):
    version = HiddenField()

    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class IncidentForm(VersionedForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        _l("Description (internal, Markdown)"), validators=[Length(max=20000)]
    )
    reporter_name = StringField(_l("Reporter name"), validators=[Length(max=120)])
    reporter_contact = StringField(_l("Reporter contact"), validators=[Length(max=254)])
    source = SelectField(
        _l("Source"), choices=_choices(IncidentSource), default=IncidentSource.STAFF.value
    )
    impact_started_at = ZonedDateTimeField(
        _l("Impact started at ({zone})"), validators=[Optional()]
    )
    detected_at = ZonedDateTimeField(_l("Detected at ({zone})"), validators=[Optional()])
    components = SelectMultipleField(_l("Affected components"), coerce=int, validate_choice=True)
    template = SelectField(_l("Template"), coerce=optional_int, validate_choice=True)


class CategorizeForm(VersionedForm):
    category = SelectField(_l("Category"), coerce=optional_int)
    subcategory = SelectField(_l("Subcategory"), coerce=optional_int)
    impact = SelectField(_l("Impact"), choices=_choices(Level), validators=[DataRequired()])
    urgency = SelectField(_l("Urgency"), choices=_choices(Level), validators=[DataRequired()])


class PriorityOverrideForm(VersionedForm):
    priority = SelectField(_l("Priority"), choices=options((p.value, p.value) for p in Priority))
    reason = TextAreaField(
        _l("Reason for overriding the matrix"), validators=[DataRequired(), Length(max=2000)]
    )


class TransitionForm(VersionedForm):
    target = SelectField(
        _l("Move to"), choices=_choices(IncidentStatus), validators=[DataRequired()]
    )
    reason = TextAreaField(_l("Reason"), validators=[Length(max=2000)])
    workaround = TextAreaField(_l("Workaround or fix in place"), validators=[Length(max=5000)])
    resolution_code = SelectField(
        _l("Resolution code"), choices=_choices(ResolutionCode, blank="—"), validate_choice=False
    )
    resolution_summary = TextAreaField(_l("Resolution summary"), validators=[Length(max=5000)])
    check_operational = BooleanField(_l("Service is operational again"))
    check_users = BooleanField(_l("Users can resume their work"))
    check_side_effects = BooleanField(_l("No side effects found"))
    verification = TextAreaField(_l("How the fix was verified"), validators=[Length(max=5000)])

    def validate_resolution_code(self, field: SelectField) -> None:
        if field.data and field.data not in {code.value for code in ResolutionCode}:
            raise ValidationError(gettext("Choose one of the listed resolution codes."))

    CHECKS = {
        "check_operational": "service operational",
        "check_users": "users can resume",
        "check_side_effects": "no side effects",
    }


class AssignForm(VersionedForm):
    assignee = SelectField(_l("Assignee"), coerce=optional_int)


class RoleForm(FlaskForm):
    user = SelectField(_l("Person"), coerce=optional_int, validators=[InputRequired()])
    role = SelectField(_l("Role"), choices=_choices(IncidentRole))


class TaskForm(FlaskForm):
    kind = SelectField(
        _l("Kind"),
        choices=options(
            [
                (TaskKind.RESPONSE.value, _l("Response task (blocks closure)")),
                (TaskKind.FOLLOW_UP.value, _l("Follow-up action")),
            ]
        ),
    )
    title = StringField(_l("Task"), validators=[DataRequired(), Length(max=200)])
    owner = SelectField(_l("Owner"), coerce=optional_int)
    due_at = ZonedDateTimeField(_l("Due ({zone})"), validators=[Optional()])


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Internal note (Markdown)"), validators=[DataRequired(), Length(max=20000)]
    )


class EvidenceLinkForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    url = URLField(_l("Link"), validators=[DataRequired(), Length(max=2000)])


class EvidenceLogForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    log_text = TextAreaField(_l("Pasted log"), validators=[DataRequired(), Length(max=200000)])


class EvidenceFileForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Length(max=200)])
    file = FileField(_l("File"))


class LinkForm(FlaskForm):
    other_id = IntegerField(_l("Incident number"), validators=[InputRequired(), NumberRange(min=1)])
    kind = SelectField(_l("Link"), choices=_choices(LinkKind))


class ProblemLinkForm(FlaskForm):
    problem_id = IntegerField(
        _l("Problem number"), validators=[InputRequired(), NumberRange(min=1)]
    )


class ClosureReportForm(VersionedForm):
    summary = TextAreaField(_l("Summary"), validators=[DataRequired(), Length(max=20000)])
    impact = TextAreaField(
        _l("Impact (duration, components, who was affected)"),
        validators=[DataRequired(), Length(max=20000)],
    )
    cause = TextAreaField(_l("Cause"), validators=[DataRequired(), Length(max=20000)])
    resolution = TextAreaField(_l("Resolution"), validators=[DataRequired(), Length(max=20000)])
    prevention = TextAreaField(
        _l("What we are doing so it does not happen again"),
        validators=[DataRequired(), Length(max=20000)],
    )


class ReviewForm(VersionedForm):
    summary = TextAreaField(_l("Summary"), validators=[Length(max=50000)])
    impact = TextAreaField(_l("Impact"), validators=[Length(max=50000)])
    leadup = TextAreaField(_l("Leadup"), validators=[Length(max=50000)])
    trigger = TextAreaField(_l("Trigger"), validators=[Length(max=50000)])
    detection = TextAreaField(_l("Detection"), validators=[Length(max=50000)])
    response = TextAreaField(_l("Response"), validators=[Length(max=50000)])
    recovery = TextAreaField(_l("Recovery"), validators=[Length(max=50000)])
    timeline = TextAreaField(
        _l("Timeline (one entry a line: time in ISO 8601 | what happened)"),
        validators=[Length(max=100000)],
    )
    contributing_factors = TextAreaField(
        _l("Contributing factors and root causes"), validators=[Length(max=50000)]
    )
    went_well = TextAreaField(_l("What went well"), validators=[Length(max=50000)])
    went_badly = TextAreaField(_l("What went badly"), validators=[Length(max=50000)])
    got_lucky = TextAreaField(_l("Where we got lucky"), validators=[Length(max=50000)])
    communications = TextAreaField(
        _l("Review of the communications"), validators=[Length(max=50000)]
    )

    def parsed_timeline(self) -> list[dict[str, str]]:
        """The timeline lines as entries; a line that does not parse is a field error."""
        entries = []
        for number, line in enumerate((self.timeline.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            at_text, _, words = line.partition("|")
            try:
                at = datetime.fromisoformat(at_text.strip())
            except ValueError:
                raise ValidationError(
                    gettext(
                        "Line %(number)s: start with a time such as 2026-05-04T09:30:00+00:00, "
                        "then | and the text.",
                        number=number,
                    )
                ) from None
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            entries.append({"at": at.astimezone(UTC).isoformat(), "text": words.strip()})
        return entries

    def validate_timeline(self, field: TextAreaField) -> None:
        self.parsed_timeline()


def timeline_text(entries: list[dict[str, str]]) -> str:
    """The editor's text: a review saved before times were kept to the second shows them so."""
    lines = []
    for entry in entries:
        at = parse_timeline_time(entry.get("at"))
        lines.append(f"{timeline_time(at) if at else entry.get('at')} | {entry.get('text', '')}")
    return "\n".join(lines)


ACTION_STATUS_CHOICES = options(enum_choices(TaskStatus))


class ActionItemForm(FlaskForm):
    """A post-incident review's action item. The due date is a day (stored as 00:00 UTC)."""

    title = StringField(_l("Action"), validators=[DataRequired(), Length(max=200)])
    owner = SelectField(_l("Owner"), coerce=optional_int)
    priority = SelectField(
        _l("Priority"), choices=options((p.value, p.value) for p in Priority), default="P3"
    )
    due_on = DateField(_l("Due date (UTC)"), validators=[Optional()])
    status = SelectField(_l("Status"), choices=ACTION_STATUS_CHOICES, default=TaskStatus.OPEN.value)

    def due_at(self) -> datetime | None:
        day = self.due_on.data
        return datetime.combine(day, time.min, tzinfo=UTC) if day is not None else None


class ActionItemStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=ACTION_STATUS_CHOICES)


class PublishReviewForm(FlaskForm):
    publish_publicly = BooleanField(_l("Publish on the public status page"))
