"""Admin views: email subscribers. The list with its counts, CSV export and import, removal.

Who may: PUBLISH (communicators, managers, admins), for reading as well as changing.
Subscribers' addresses are personal data, so the read-only VIEW roles do not see them; and who
hears about what is the comms side's business, which is what PUBLISH stands for. The list's
filter form is a plain GET form; import and removal are POST forms with CSRF.

The work itself is in `statuspage.notifications.subscriber_admin`; these views read the
request, call it, commit once and answer.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as BaseResponse

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.settings_forms import show_domain_error
from statuspage.admin.subscriber_forms import CONFIRMED_HELP, SubscriberImportForm
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError, NotFound
from statuspage.extensions import db
from statuspage.importing.run import component_aliases
from statuspage.notifications import subscriber_admin as admin
from statuspage.notifications.subscriber_admin import SubscriberFilters, SubscriberState
from statuspage.web_converters import page_arg

logger = logging.getLogger(__name__)

CSV_ROWS_PER_CHUNK = 200


# --- reading the query string -----------------------------------------------------------


def _bad(message: str) -> NoReturn:
    abort(400, description=message)


def _filters(values: dict[str, str] | None = None) -> SubscriberFilters:
    source = values if values is not None else request.args
    raw_state = (source.get("state") or "").strip()
    state = None
    if raw_state:
        try:
            state = SubscriberState(raw_state)
        except ValueError:
            allowed = ", ".join(s.value for s in SubscriberState)
            _bad(f"The filter 'state' cannot be {raw_state!r}; use one of: {allowed}.")
    # PostgreSQL refuses NUL in text; it never belongs in a search anyway.
    search = (source.get("q") or "").replace("\x00", "").strip()[: admin.SEARCH_MAX]
    return SubscriberFilters(search=search, state=state)


def _page_number() -> int:
    return page_arg()


def _query_args(filters: SubscriberFilters) -> dict[str, str]:
    values = {"q": filters.search, "state": filters.state.value if filters.state else ""}
    return {key: value for key, value in values.items() if value}


# --- the list ---------------------------------------------------------------------------


@bp.get("/subscribers")
def subscribers() -> str:
    require(Permission.PUBLISH)
    filters = _filters()
    result = admin.list_subscribers(db.session, filters, page=_page_number())
    query_args = _query_args(filters)
    return render_template(
        "admin/subscribers/list.html",
        result=result,
        counts=admin.subscriber_counts(db.session),
        filters=filters,
        query_args=query_args,
        states=list(SubscriberState),
        remove_form=EmptyForm(),
    )


@bp.post("/subscribers/<int:subscriber_id>/remove")
def remove_subscriber(subscriber_id: int) -> BaseResponse:
    require(Permission.PUBLISH)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    try:
        admin.remove_subscriber(db.session, subscriber_id, actor_id=actor_id(), now=utcnow())
    except NotFound:
        db.session.rollback()
        abort(404)
    db.session.commit()
    # No address in the message: flashed messages travel in the (signed, readable) cookie.
    flash(gettext("Subscriber removed. They get no more emails."))
    # Back to the list as it was filtered; the values go through the same checks as a GET.
    back = _query_args(_filters({"q": request.form.get("q", ""), "state": _known_state()}))
    return redirect(url_for("admin.subscribers", **back))


def _known_state() -> str:
    raw = request.form.get("state", "")
    return raw if raw in {s.value for s in SubscriberState} else ""


# --- export -----------------------------------------------------------------------------


@bp.get("/subscribers.csv")
def subscribers_csv() -> Response:
    require(Permission.PUBLISH)
    filters = _filters()
    admin.record_export(db.session, filters, actor_id=actor_id(), now=utcnow())
    db.session.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def generate() -> Iterator[str]:
        # The body is written after the view has returned. Rather than keep the request's
        # context alive for it (`stream_with_context`, which stays pushed for as long as an
        # unread response is around), the generator opens its own app context, and with it
        # its own database session, only once the body is actually read.
        with app.app_context():
            chunk: list[list[str]] = []
            for row in admin.export_rows(db.session, filters):
                chunk.append(row)
                if len(chunk) >= CSV_ROWS_PER_CHUNK:
                    yield admin.csv_text(chunk)
                    chunk = []
            if chunk:
                yield admin.csv_text(chunk)

    filename = f"subscribers-{utcnow().date().isoformat()}.csv"
    response = Response(generate(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Personal data: no shared cache may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- import -----------------------------------------------------------------------------
#
# Uploading shows a preview first: the file is read and imported in a transaction that is
# rolled back, so the counts are exactly what an import would do, and the upload is kept in
# the instance folder under a random name (for an hour, for that user only) until the
# preview's "Import" button confirms it. A POST with a file and no `action=preview` imports
# at once, as before.

PREVIEW_DIR = "subscriber-imports"
PREVIEW_MAX_AGE = 60 * 60
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _render_import(
    form: SubscriberImportForm,
    status: int = 200,
    result: admin.ImportResult | None = None,
    queue_error: bool = False,
    preview: admin.ImportResult | None = None,
) -> tuple[str, int]:
    limit = _max_bytes()
    return render_template(
        "admin/subscribers/import.html",
        form=form,
        result=result,
        preview=preview,
        queue_error=queue_error,
        confirmed_help=CONFIRMED_HELP,
        max_kib=limit // 1024,
        max_rows=admin.IMPORT_MAX_ROWS,
    ), status


def _max_bytes() -> int:
    return int(current_app.config.get("SUBSCRIBER_IMPORT_MAX_BYTES", admin.IMPORT_MAX_BYTES))


def _preview_path(upload_id: str) -> Path | None:
    if not _UPLOAD_ID.match(upload_id or ""):
        return None
    return Path(current_app.instance_path) / PREVIEW_DIR / f"{actor_id()}-{upload_id}.csv"


def _keep_for_confirmation(data: bytes) -> str:
    folder = Path(current_app.instance_path) / PREVIEW_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    cutoff = time.time() - PREVIEW_MAX_AGE
    for old in folder.glob("*.csv"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
    upload_id = secrets.token_urlsafe(24)
    path = _preview_path(upload_id)
    assert path is not None
    path.write_bytes(data)
    path.chmod(0o600)
    return upload_id


def _kept_upload(upload_id: str) -> bytes | None:
    path = _preview_path(upload_id)
    if path is None or not path.is_file():
        return None
    if path.stat().st_mtime < time.time() - PREVIEW_MAX_AGE:
        path.unlink(missing_ok=True)
        return None
    return path.read_bytes()


def _send_confirmations(subscriber_ids: Sequence[int]) -> bool:
    """Queue a confirmation email for each new subscriber; False when the queue refused.

    Called after the commit: a worker that picks a task up must find the subscriber.
    """
    if not subscriber_ids:
        return True
    try:
        from statuspage.worker.subscriptions import send_subscription_email_task

        for subscriber_id in subscriber_ids:
            send_subscription_email_task(subscriber_id, "confirm")
    except Exception:
        # The subscribers are saved and stay unconfirmed; the admin is told.
        logger.exception(
            "Could not queue confirmation emails for %d imported subscriber(s)",
            len(subscriber_ids),
        )
        return False
    return True


@bp.route("/subscribers/import", methods=["GET", "POST"])
def import_subscribers() -> tuple[str, int]:
    require(Permission.PUBLISH)
    form = SubscriberImportForm()
    if not form.validate_on_submit():
        return _render_import(form, 400 if request.method == "POST" else 200)
    previewing = request.form.get("action") == "preview"
    upload_id = form.upload_id.data or ""
    limit = _max_bytes()
    if upload_id:
        kept = _kept_upload(upload_id)
        if kept is None:
            form.form_errors.append(gettext("That preview has expired. Upload the file again."))
            return _render_import(form, 400)
        data = kept
    elif form.file.data:
        data = form.file.data.stream.read(limit + 1)
    else:
        form.file.errors = [gettext("Choose a CSV file to upload.")]
        return _render_import(form, 400)
    try:
        if len(data) > limit:
            raise DomainError(
                gettext(
                    "The file is larger than %(kib)s KiB; split it and upload each part.",
                    kib=limit // 1024,
                ),
                field="file",
            )
        parsed = admin.parse_import(data)
        result = admin.import_subscribers(
            db.session,
            parsed,
            mark_confirmed=bool(form.mark_confirmed.data),
            actor_id=actor_id(),
            now=utcnow(),
            component_aliases=component_aliases(db.session),
        )
        if previewing:
            db.session.rollback()  # a preview writes nothing
            confirm = SubscriberImportForm(
                formdata=None,
                upload_id=_keep_for_confirmation(data),
                mark_confirmed=bool(form.mark_confirmed.data),
            )
            return _render_import(confirm, 200, preview=result)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        show_domain_error(form, error, "file")
        return _render_import(form, 400)
    except IntegrityError:
        # Someone added one of these addresses between our check and our insert.
        db.session.rollback()
        form.form_errors.append(
            gettext(
                "Some of these addresses were added by someone else at the same moment. Nothing "
                "was imported; upload the file again."
            )
        )
        return _render_import(form, 409)
    if upload_id:
        path = _preview_path(upload_id)
        if path is not None:
            path.unlink(missing_ok=True)
    queued = result.confirmed or _send_confirmations(result.added_ids)
    return _render_import(
        SubscriberImportForm(formdata=None), 200, result=result, queue_error=not queued
    )
