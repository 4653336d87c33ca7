"""What customers read, in languages other than the page's default.

The default language's text stays where it always was (an update's `body`, a closure report's
sections, a review's sections, an incident template's `message_templates`, a maintenance's
`title` and `body`, a maintenance update's `body`): it is required, as
before, and it is what the JSON API, old subscribers and every reader without a translation get.
A translation is optional, one row per record and language (`translation_models.py`).

One entry point per action, Flask-free, flushing and never committing:

- `set_translation(session, kind, record_id, language, texts, ...)` adds or replaces one
  language of one record; it marks the record's other translations possibly outdated.
- `remove_translation(session, kind, record_id, language, ...)`.

"Possibly outdated" (`TranslationState.outdated`) is either of: the default-language text
changed since the translation was written (its digest is kept on the row, so any writer of the
default text, the admin, the API or the CLI, is covered without remembering to say so), or
another language of the same record was edited since (`outdated`, set here). Saving a
translation again clears both.

Readers: `Localizer` gives a record's text in the reader's language when a translation exists,
else the default language's, and says which language the text is in (pages put `lang` on it and
a note "available in English only").
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError, NotFound
from statuspage.core.languages import CODES, normalize
from statuspage.core.records import bump_public_version, record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_
from statuspage.incidents.models import (
    ClosureReport,
    IncidentTemplate,
    IncidentUpdate,
    Maintenance,
    MaintenanceStatus,
    MaintenanceUpdate,
    PostIncidentReview,
    PublicStatus,
    ReviewStatus,
)
from statuspage.incidents.translation_models import (
    ClosureReportTranslation,
    IncidentTemplateTranslation,
    IncidentUpdateTranslation,
    MaintenanceTranslation,
    MaintenanceUpdateTranslation,
    ReviewTranslation,
)

if TYPE_CHECKING:
    from statuspage.incidents.queries import PublicReview

TEXT_MAX = 50_000
TITLE_MAX = 200  # a maintenance title, as `maintenance.title`


class Kind(enum.StrEnum):
    UPDATE = "update"
    CLOSURE_REPORT = "closure_report"
    REVIEW = "review"
    TEMPLATE = "template"
    MAINTENANCE = "maintenance"
    MAINTENANCE_UPDATE = "maintenance_update"


REVIEW_FIELDS = (
    "summary",
    "impact",
    "leadup",
    "trigger",
    "detection",
    "response",
    "recovery",
    "contributing_factors",
    "went_well",
    "went_badly",
    "got_lucky",
    "communications",
)


@dataclass(frozen=True)
class _Spec:
    record: type[Any]
    row: type[Any]
    key: str  # the row's column naming the record
    fields: tuple[str, ...]
    every_field: bool  # True: every field is required; False: at least one
    entity: str  # audit entity type
    required: tuple[str, ...] = ()  # with every_field False: these fields are required
    single_line: tuple[str, ...] = ()  # titles: one line, at most TITLE_MAX characters

    def key_column(self) -> Any:
        return getattr(self.row, self.key)


SPECS: dict[Kind, _Spec] = {
    Kind.UPDATE: _Spec(
        IncidentUpdate, IncidentUpdateTranslation, "update_id", ("body",), True, "incident_update"
    ),
    Kind.CLOSURE_REPORT: _Spec(
        ClosureReport,
        ClosureReportTranslation,
        "report_id",
        ("summary", "impact", "cause", "resolution", "prevention"),
        True,
        "closure_report",
    ),
    Kind.REVIEW: _Spec(
        PostIncidentReview, ReviewTranslation, "review_id", REVIEW_FIELDS, False, "review"
    ),
    Kind.TEMPLATE: _Spec(
        IncidentTemplate,
        IncidentTemplateTranslation,
        "template_id",
        ("message_templates",),
        False,
        "incident_template",
    ),
    # A maintenance's message may be empty in the default language; its title never is.
    Kind.MAINTENANCE: _Spec(
        Maintenance,
        MaintenanceTranslation,
        "maintenance_id",
        ("title", "body"),
        False,
        "maintenance",
        required=("title",),
        single_line=("title",),
    ),
    Kind.MAINTENANCE_UPDATE: _Spec(
        MaintenanceUpdate,
        MaintenanceUpdateTranslation,
        "update_id",
        ("body",),
        True,
        "maintenance_update",
    ),
}


def source_digest(kind: Kind, record: Any) -> str:
    """A digest of the record's default-language text, as a translation remembers it."""
    values = [getattr(record, name) for name in SPECS[kind].fields]
    data = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def translatable_languages(default_language: str) -> tuple[str, ...]:
    """The languages a translation may be written in: every language but the page's default."""
    return tuple(code for code in CODES if code != default_language)


def _language(value: object, default_language: str) -> str:
    code = normalize(value) if isinstance(value, str) and len(value) <= 8 else None
    if code is None or code != str(value).strip().lower():
        raise DomainError(N_("Choose one of the page's languages."), field="language")
    if code == default_language:
        raise DomainError(
            N_("The page's default language is the record's own text: edit it there."),
            field="language",
        )
    return code


def _record(session: Session, kind: Kind, record_id: int) -> Any:
    record = session.get(SPECS[kind].record, record_id)
    if record is None:
        raise NotFound(f"No such {kind.value.replace('_', ' ')}.")
    return record


def is_public(kind: Kind, record: Any) -> bool:
    """Whether customers can read the record now (a change to it changes public pages)."""
    if kind == Kind.UPDATE:
        return record.published_at is not None
    if kind == Kind.CLOSURE_REPORT:
        return record.published_at is not None
    if kind == Kind.REVIEW:
        return bool(
            record.status == ReviewStatus.PUBLISHED
            and record.published_at is not None
            and record.publish_publicly
        )
    # Maintenance is public from the moment it is scheduled; templates are staff tools.
    return kind in (Kind.MAINTENANCE, Kind.MAINTENANCE_UPDATE)


def _clean_texts(kind: Kind, texts: Mapping[str, object]) -> dict[str, Any]:
    spec = SPECS[kind]
    if kind == Kind.TEMPLATE:
        raw = texts.get("message_templates", texts)
        if not isinstance(raw, Mapping):
            raise DomainError(
                N_("The messages must be given per status."), field="message_templates"
            )
        messages: dict[str, str] = {}
        for key, value in raw.items():
            try:
                status = PublicStatus(str(key))
            except ValueError:
                raise DomainError(
                    N_("%(key)s is not a public status."), field="message_templates", key=key
                ) from None
            text = (value if isinstance(value, str) else "").strip()
            if len(text) > TEXT_MAX:
                raise DomainError(
                    N_("Keep each message under %(max)s characters."),
                    field=status.value,
                    max=TEXT_MAX,
                )
            if text:
                messages[status.value] = text
        if not messages:
            raise DomainError(
                N_("Write the message for at least one status."), field="message_templates"
            )
        return {"message_templates": messages}
    cleaned: dict[str, Any] = {}
    for name in spec.fields:
        value = texts.get(name, "")
        text = (value if isinstance(value, str) else "").replace("\x00", "").strip()
        if name in spec.single_line:
            text = single_line(text)
            if len(text) > TITLE_MAX:
                raise DomainError(
                    N_("Keep the title under %(max)s characters."), max=TITLE_MAX, field=name
                )
        if len(text) > TEXT_MAX:
            raise DomainError(
                N_("Keep each text under %(max)s characters."), max=TEXT_MAX, field=name
            )
        if (spec.every_field or name in spec.required) and not text:
            raise DomainError(N_("This text is required in every language."), field=name)
        cleaned[name] = text
    if not spec.every_field and not any(cleaned.values()):
        raise DomainError(N_("Write at least one section."), field=spec.fields[0])
    return cleaned


def set_translation(
    session: Session,
    kind: Kind | str,
    record_id: int,
    language: str,
    texts: Mapping[str, object],
    *,
    default_language: str,
    actor_id: int | None,
    now: datetime,
) -> Any:
    """Add or replace the `language` text of one record (an update, a closure report, a review
    or an incident template). Refusals are `DomainError`s naming the field, before anything is
    written. The record's other translations are marked possibly outdated when this one's text
    changed; the public version moves when customers can read the record."""
    kind = Kind(kind)
    spec = SPECS[kind]
    code = _language(language, default_language)
    record = _record(session, kind, record_id)
    values = _clean_texts(kind, texts)
    row = session.scalar(
        sa.select(spec.row).where(spec.key_column() == record_id, spec.row.language == code)
    )
    is_new = row is None
    if row is None:
        row = spec.row(language=code, created_at=now, **{spec.key: record_id})
        session.add(row)
    changed = [name for name in values if getattr(row, name, None) != values[name]]
    for name, value in values.items():
        setattr(row, name, value)
    row.source_digest = source_digest(kind, record)
    row.outdated = False
    row.updated_at = now
    row.author_id = actor_id
    if changed:
        session.execute(
            sa.update(spec.row)
            .where(spec.key_column() == record_id, spec.row.language != code)
            .values(outdated=True)
            .execution_options(synchronize_session="fetch")
        )
    session.flush()
    record_audit(
        session,
        spec.entity,
        record_id,
        "translation_added" if is_new else "translation_edited",
        {"language": code, "fields": changed},
        actor_id=actor_id,
        now=now,
    )
    if changed and is_public(kind, record):
        bump_public_version(session, now)
    return row


def remove_translation(
    session: Session,
    kind: Kind | str,
    record_id: int,
    language: str,
    *,
    default_language: str,
    actor_id: int | None,
    now: datetime,
) -> bool:
    """Remove one language of one record; False when there was none."""
    kind = Kind(kind)
    spec = SPECS[kind]
    code = _language(language, default_language)
    record = _record(session, kind, record_id)
    row = session.scalar(
        sa.select(spec.row).where(spec.key_column() == record_id, spec.row.language == code)
    )
    if row is None:
        return False
    session.delete(row)
    session.flush()
    record_audit(
        session,
        spec.entity,
        record_id,
        "translation_removed",
        {"language": code},
        actor_id=actor_id,
        now=now,
    )
    if is_public(kind, record):
        bump_public_version(session, now)
    return True


# --- what staff see ---


@dataclass(frozen=True)
class TranslationState:
    language: str
    row: Any | None  # None: no translation in this language
    source_changed: bool  # the default text was edited since
    other_edited: bool  # another language was edited since

    @property
    def exists(self) -> bool:
        return self.row is not None

    @property
    def outdated(self) -> bool:
        return self.source_changed or self.other_edited

    def text(self, name: str) -> Any:
        return getattr(self.row, name) if self.row is not None else ""


def translation_states(
    session: Session, kind: Kind | str, record: Any, *, default_language: str
) -> list[TranslationState]:
    """Each language but the default, with its translation of `record` if any (staff pages)."""
    kind = Kind(kind)
    spec = SPECS[kind]
    rows = {
        row.language: row
        for row in session.scalars(sa.select(spec.row).where(spec.key_column() == record.id))
    }
    digest = source_digest(kind, record)
    states = []
    for code in translatable_languages(default_language):
        row = rows.get(code)
        states.append(
            TranslationState(
                language=code,
                row=row,
                source_changed=row is not None and row.source_digest != digest,
                other_edited=row is not None and bool(row.outdated),
            )
        )
    return states


def template_messages(session: Session, template_id: int | None, language: str) -> dict[str, str]:
    """An incident template's message texts (status -> text) in `language`; {} when none."""
    if template_id is None:
        return {}
    row = session.scalar(
        sa.select(IncidentTemplateTranslation).where(
            IncidentTemplateTranslation.template_id == template_id,
            IncidentTemplateTranslation.language == language,
        )
    )
    if row is None:
        return {}
    return {str(k): v for k, v in (row.message_templates or {}).items() if isinstance(v, str)}


# --- what readers see ---


@dataclass(frozen=True)
class Shown:
    """A text as a reader gets it: in `language`, which is the one they asked for or, when no
    translation exists, the page's default (`fallback`)."""

    text: str
    language: str
    fallback: bool


class Localizer:
    """Records' texts in one reader language, translations loaded once per kind and record
    (call `prime` with many ids to load a page's worth in one statement). A reader of the
    default language costs no query at all."""

    def __init__(self, session: Session, language: str, default_language: str) -> None:
        self.session = session
        self.language = normalize(language) or default_language
        self.default_language = default_language
        self._rows: dict[tuple[Kind, int], Any | None] = {}

    @classmethod
    def untranslated(cls, language: str = "en") -> Localizer:
        """Default-language texts only (no session needed)."""
        return cls(None, language, language)  # type: ignore[arg-type]

    @property
    def is_default(self) -> bool:
        return self.language == self.default_language

    def prime(self, kind: Kind, record_ids: Iterable[int]) -> None:
        if self.is_default:
            return
        spec = SPECS[kind]
        wanted = sorted({int(i) for i in record_ids if (kind, int(i)) not in self._rows})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for record_id in chunk:
                self._rows[(kind, record_id)] = None
            for row in self.session.scalars(
                sa.select(spec.row).where(
                    spec.key_column().in_(chunk), spec.row.language == self.language
                )
            ):
                self._rows[(kind, getattr(row, spec.key))] = row

    def row(self, kind: Kind, record_id: int) -> Any | None:
        if self.is_default:
            return None
        if (kind, record_id) not in self._rows:
            self.prime(kind, [record_id])
        return self._rows.get((kind, record_id))

    def field(self, kind: Kind, record: Any, name: str) -> Shown:
        default_text = getattr(record, name) or ""
        if self.is_default:
            return Shown(default_text, self.default_language, fallback=False)
        row = self.row(kind, record.id)
        text = (getattr(row, name) or "") if row is not None else ""
        if text.strip():
            return Shown(text, self.language, fallback=False)
        return Shown(default_text, self.default_language, fallback=True)

    def update(self, update: IncidentUpdate) -> Shown:
        return self.field(Kind.UPDATE, update, "body")

    def report(self, report: ClosureReport) -> dict[str, Shown]:
        return {
            name: self.field(Kind.CLOSURE_REPORT, report, name)
            for name in SPECS[Kind.CLOSURE_REPORT].fields
        }

    def report_fallback(self, report: ClosureReport) -> bool:
        """True when the report has no translation in the reader's language at all."""
        return not self.is_default and self.row(Kind.CLOSURE_REPORT, report.id) is None

    def maintenance(self, maintenance: Maintenance) -> dict[str, Shown]:
        """The maintenance's `title` and `body` in the reader's language where translated."""
        return {
            name: self.field(Kind.MAINTENANCE, maintenance, name)
            for name in SPECS[Kind.MAINTENANCE].fields
        }

    def maintenance_update(self, maintenance: Maintenance, update: MaintenanceUpdate) -> Shown:
        """A maintenance update's text in the reader's language where translated. The
        announcement (the scheduled update) repeats the maintenance's message, kept in step
        with it (`maintenance.update_maintenance`): untranslated itself, it takes the
        message's translation."""
        shown = self.field(Kind.MAINTENANCE_UPDATE, update, "body")
        if (
            shown.fallback
            and update.status == MaintenanceStatus.SCHEDULED
            and update.body == maintenance.body
        ):
            message = self.field(Kind.MAINTENANCE, maintenance, "body")
            if not message.fallback:
                return message
        return shown

    def review(self, review: PublicReview) -> PublicReview:
        """The public review with its sections in the reader's language where translated
        (`section_languages` says, per section, which language it is in)."""
        if self.is_default or not review.review_id:
            return review
        row = self.row(Kind.REVIEW, review.review_id)
        sections = []
        languages = []
        for name, heading, text in review.named_sections():
            translated = (getattr(row, name) or "") if row is not None else ""
            if translated.strip():
                sections.append((heading, translated))
                languages.append(self.language)
            else:
                sections.append((heading, text))
                languages.append(self.default_language)
        return replace(
            review,
            sections=sections,
            section_languages=tuple(languages),
            translated=row is not None,
        )
