"""Webhooks the mail provider calls: `POST /webhooks/sendgrid/events` (SendGrid Event Webhook).

No login and no CSRF token (SendGrid cannot have either): the request is trusted only when its
ECDSA signature verifies against the public key in `SENDGRID_WEBHOOK_PUBLIC_KEY` (base64 DER as
SendGrid shows it, or PEM). SendGrid signs `timestamp + raw body` with
`X-Twilio-Email-Event-Webhook-Timestamp` and sends the base64 DER signature in
`X-Twilio-Email-Event-Webhook-Signature`. A timestamp more than `SENDGRID_WEBHOOK_MAX_AGE`
seconds old (default 600) or more than 300 seconds ahead is refused, so a captured request
cannot be replayed later.

Answers: 200 when handled (repeated events included: SendGrid retries until it gets a 2xx),
403 for a missing, malformed or wrong signature or a stale timestamp, 400 for a body that is not
a JSON list of objects. Nothing is written unless the whole request is accepted.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.notifications.delivery import apply_provider_events

logger = logging.getLogger(__name__)

bp = Blueprint("provider_webhooks", __name__, url_prefix="/webhooks")

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DEFAULT_MAX_AGE = 600
MAX_AHEAD = 300
MAX_EVENTS = 10_000


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _public_key_text(configured: str) -> str:
    """The base64 body of the key, whether configured as SendGrid shows it or as PEM."""
    lines = [line.strip() for line in configured.strip().splitlines()]
    return "".join(line for line in lines if line and not line.startswith("-----"))


def _verified(raw: bytes, signature: str, timestamp: str) -> bool:
    from sendgrid.helpers.eventwebhook import EventWebhook

    configured = str(current_app.config.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or "")
    if not configured.strip():
        logger.warning("SendGrid event webhook called, but SENDGRID_WEBHOOK_PUBLIC_KEY is not set")
        return False
    try:
        webhook = EventWebhook(_public_key_text(configured))
    except (ValueError, TypeError):
        logger.error("SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key")
        return False
    try:
        payload = raw.decode("utf-8")
        return bool(webhook.verify_signature(payload, signature, timestamp))
    except Exception:  # bad base64, a malformed DER signature, a non-EC key...
        return False


def _fresh(timestamp: str) -> bool:
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    max_age = int(current_app.config.get("SENDGRID_WEBHOOK_MAX_AGE", DEFAULT_MAX_AGE))
    return -max_age <= sent - time.time() <= MAX_AHEAD


def _events(raw: bytes) -> list[dict[str, Any]] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, list) or len(body) > MAX_EVENTS:
        return None
    if not all(isinstance(event, dict) for event in body):
        return None
    return body


@bp.post("/sendgrid/events")
def sendgrid_events() -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    if not signature or not timestamp:
        return _error(403, "Signature headers missing.")
    if not _fresh(timestamp):
        return _error(403, "Timestamp missing, malformed or outside the allowed window.")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return _error(400, "The body must be UTF-8 JSON.")
    if not _verified(raw, signature, timestamp):
        return _error(403, "Signature does not verify.")
    events = _events(raw)
    if events is None:
        return _error(400, "The body must be a JSON list of event objects.")
    try:
        report = apply_provider_events(db.session, events, now=utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        logger.exception("SendGrid events could not be saved")
        # SendGrid retries on any non-2xx answer; the repeat is ignored by event id.
        return _error(503, "Events could not be saved; try again.")
    logger.info(
        "SendGrid events: %d suppressed, %d repeated, %d ignored",
        report.suppressed,
        report.repeated,
        report.ignored,
    )
    return jsonify({"suppressed": report.suppressed, "repeated": report.repeated}), 200
