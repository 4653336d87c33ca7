"""SMS through Twilio: a short text that fits its segments, and the sender.

Length is counted the way phones count it. A text made only of GSM 03.38 characters is sent
as GSM-7: 160 characters in one segment, 153 per segment once split (the characters of the
extension table, such as `€ [ ] { } ~ ^ | \\`, count twice). One character outside it (most
non-Latin scripts, emoji) makes the whole text UCS-2: 70 in one segment, 67 per segment
(a character outside the BMP counts twice). Typographic punctuation that staff paste (curly
quotes, dashes, the ellipsis, a no-break space) is written in its GSM-7 form first, so a
Latin text is never sent as UCS-2 for a quote mark.

`build_sms` writes "<page>: <status> - <title>. <the update> <link>" within `max_segments`
(one by default), shortening the update, then the title, at a word boundary; the link to the
incident's page is always whole.

The sender uses Twilio's own client. `api_base_url` (tests only) sends its requests to a
stand-in: the client's HTTP layer keeps each request's path and swaps the scheme and host,
whatever region or edge settings rewrote them to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from statuspage.notifications.channels import SendResult
from statuspage.notifications.chat.markup import to_plain
from statuspage.notifications.chat.message import ChannelMessage
from statuspage.notifications.webhooks import retry_after_seconds

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_GSM7_BASIC = frozenset(GSM7_BASIC)
_GSM7_EXTENSION = frozenset(GSM7_EXTENSION)

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67
TWILIO_BODY_MAX = 1600

# Typography that has a GSM-7 spelling.
_GSM7_FRIENDLY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u200b": "",
        "\t": " ",
    }
)

# Twilio's error codes we act on.
ERROR_INVALID_TO = 21211
ERROR_OPTED_OUT = 21610
ERROR_NOT_MOBILE = 21614
GONE_ERRORS = {ERROR_INVALID_TO, ERROR_OPTED_OUT, ERROR_NOT_MOBILE}


def normalise_text(text: str) -> str:
    return text.translate(_GSM7_FRIENDLY)


def is_gsm7(text: str) -> bool:
    return all(char in _GSM7_BASIC or char in _GSM7_EXTENSION for char in text)


def units(text: str) -> int:
    """Length in the text's own encoding: septets for GSM-7, UTF-16 code units for UCS-2."""
    if is_gsm7(text):
        return sum(2 if char in _GSM7_EXTENSION else 1 for char in text)
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def segment_count(text: str) -> int:
    length = units(text)
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if is_gsm7(text) else (UCS2_SINGLE, UCS2_MULTI)
    if length <= single:
        return 1
    return -(-length // multi)


def capacity(text: str, segments: int) -> int:
    """How many units `segments` segments hold for a text encoded like `text`."""
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if is_gsm7(text) else (UCS2_SINGLE, UCS2_MULTI)
    return single if segments <= 1 else multi * segments


@dataclass(frozen=True)
class SmsText:
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    units: int


def _fit_words(text: str, room: int, ellipsis: str) -> str:
    """The longest run of whole words from `text` within `room` units, plus `ellipsis` when
    anything was left out; "" when not even one word fits."""
    if units(text) <= room:
        return text
    words = text.split(" ")
    kept: list[str] = []
    for word in words:
        candidate = " ".join([*kept, word]) + ellipsis
        if units(candidate) > room:
            break
        kept.append(word)
    if not kept:
        return ""
    return " ".join(kept).rstrip(" ,;:.-") + ellipsis


def build_sms(message: ChannelMessage, *, max_segments: int = 1) -> SmsText:
    """The text for one message, within `max_segments` segments, words never cut."""
    page = normalise_text(" ".join(message.page_name.split()))
    title = normalise_text(" ".join(message.title.split()))
    status = normalise_text(message.status_label)
    body = normalise_text(" ".join(to_plain(message.body_markdown).split()))
    link = message.url
    head = f"{page}: {status} - "
    # The encoding is chosen by the whole text: a non-GSM character anywhere makes it UCS-2.
    probe = f"{head}{title}. {body} {link}"
    gsm = is_gsm7(probe)
    ellipsis = "..." if gsm else "…"
    room = capacity(probe, max_segments)

    def assemble(title_text: str, body_text: str) -> str:
        title_part = title_text.rstrip(".") + "." if title_text else ""
        parts = [head + title_part]
        if body_text:
            parts.append(body_text)
        parts.append(link)
        return " ".join(parts)

    text = assemble(title, body)
    if units(text) > room:
        # The update gives way first, then the title; the link and the status stay.
        fixed = units(assemble(title, "")) + 1  # +1: the space before the body
        short_body = _fit_words(body, room - fixed, ellipsis) if room > fixed else ""
        text = assemble(title, short_body)
        if units(text) > room:
            fixed = units(assemble("", ""))
            short_title = _fit_words(title, room - fixed - 1, ellipsis)
            text = assemble(short_title, "")
    if units(text) > room:
        # Even the page name, status and link do not fit: let it take more segments
        # (Twilio joins them on the phone) rather than drop the link.
        text = f"{status}: {link}"
    encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    return SmsText(text=text, encoding=encoding, segments=segment_count(text), units=units(text))


def split_segments(text: str) -> list[str]:
    """The text as the segments a phone receives, for showing or testing; words kept whole
    where a segment boundary would cut one."""
    if segment_count(text) == 1:
        return [text]
    limit = GSM7_MULTI if is_gsm7(text) else UCS2_MULTI
    segments: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if units(candidate) <= limit:
            current = candidate
            continue
        if current:
            segments.append(current)
        current = word
        while units(current) > limit:
            cut = len(current)
            while units(current[:cut]) > limit:
                cut -= 1
            segments.append(current[:cut])
            current = current[cut:]
    if current:
        segments.append(current)
    return segments


# --- sending ---


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str = ""
    messaging_service_sid: str = ""
    api_base_url: str = ""  # tests only: a stand-in's http://127.0.0.1:PORT

    @property
    def configured(self) -> bool:
        sender = self.from_number or self.messaging_service_sid
        return bool(self.account_sid and self.auth_token and sender)


def twilio_settings(config: Mapping[str, Any]) -> TwilioSettings | None:
    """The Twilio settings from the app's config, or None while SMS is not configured."""
    settings = TwilioSettings(
        account_sid=str(config.get("TWILIO_ACCOUNT_SID") or ""),
        auth_token=str(config.get("TWILIO_AUTH_TOKEN") or ""),
        from_number=str(config.get("TWILIO_FROM_NUMBER") or ""),
        messaging_service_sid=str(config.get("TWILIO_MESSAGING_SERVICE_SID") or ""),
        api_base_url=str(config.get("TWILIO_API_BASE_URL") or ""),
    )
    return settings if settings.configured else None


# Twilio's client logs every request's URL (with the account SID) and headers at INFO; ours
# says what matters. Its own warnings and errors still show.
_client_logger = logging.getLogger("statuspage.notifications.chat.twilio_client")
_client_logger.setLevel(logging.WARNING)


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's HTTP client that remembers the last answer's headers (Retry-After) and, given
    `base_url`, sends every request there with its path kept (tests only)."""

    def __init__(self, base_url: str = "", *, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_client_logger)
        self.base_url = urlsplit(base_url) if base_url else None
        self.last_headers: dict[str, str] = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base_url is not None:
            parts = urlsplit(url)
            url = urlunsplit(
                (self.base_url.scheme, self.base_url.netloc, parts.path, parts.query, "")
            )
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = dict(response.headers or {})
        return response


def twilio_client(settings: TwilioSettings, *, timeout: float) -> Client:
    http_client = BaseUrlHttpClient(settings.api_base_url, timeout=timeout)
    return Client(settings.account_sid, settings.auth_token, http_client=http_client)


def send_sms_text(
    settings: TwilioSettings, to: str, body: str, *, timeout: float, client: Client | None = None
) -> SendResult:
    """Send `body` to `to` (E.164). A refused number (invalid, not a mobile, opted out by
    STOP: Twilio's 21211, 21614, 21610) comes back `gone`."""
    started = time.monotonic()
    client = client or twilio_client(settings, timeout=timeout)
    options: dict[str, Any] = {"to": to, "body": body[:TWILIO_BODY_MAX]}
    if settings.messaging_service_sid:
        options["messaging_service_sid"] = settings.messaging_service_sid
    else:
        options["from_"] = settings.from_number
    try:
        sent = client.messages.create(**options)
    except TwilioRestException as error:
        status = error.status or 0
        retryable = status in (408, 429) or status >= 500
        retry_after = None
        if retryable:
            headers = getattr(client.http_client, "last_headers", {})
            retry_after = retry_after_seconds({k.lower(): v for k, v in headers.items()})
        return SendResult(
            ok=False,
            status_code=error.status,
            retry_after=retry_after,
            permanent=not retryable,
            gone=error.code in GONE_ERRORS,
            latency_ms=_elapsed_ms(started),
            response_excerpt=f"{error.code}: {error.msg}"[:500],
            error=f"Twilio error {error.code}",
        )
    except TwilioException as error:
        return SendResult(ok=False, latency_ms=_elapsed_ms(started), error=type(error).__name__)
    except OSError as error:  # requests' connection errors and timeouts are OSErrors
        return SendResult(ok=False, latency_ms=_elapsed_ms(started), error=type(error).__name__)
    return SendResult(
        ok=True,
        status_code=201,
        latency_ms=_elapsed_ms(started),
        response_excerpt=f"{sent.sid} {sent.status}"[:500],
    )


def send_sms(
    settings: TwilioSettings,
    to: str,
    message: ChannelMessage,
    *,
    timeout: float,
    max_segments: int = 1,
) -> SendResult:
    return send_sms_text(
        settings, to, build_sms(message, max_segments=max_segments).text, timeout=timeout
    )


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
