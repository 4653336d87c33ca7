"""SMS consent, Flask-free: the opt-in code, the STOP/START/HELP keywords, Twilio's signature.

Opt-in. A number receives nothing until its owner types back the code we texted to it. The
code is six digits from `secrets`; only a keyed hash of it is stored (HMAC-SHA256 under the
site's secret, over the number and the code, so a leaked table does not give the codes away
by trying all million), it lives `CODE_TTL` and allows `MAX_ATTEMPTS` tries, after which a new
code must be asked for.

Keywords. Twilio handles the carriers' standard words itself on long codes (it answers STOP
and stops delivering); its inbound-message webhook tells us too, with `OptOutType` when
Advanced Opt-Out is on. `classify_keyword` reads either: a message that is only one of the
words, in any case, with surrounding spaces and punctuation ignored.

Signatures. Every inbound request is checked with Twilio's own `RequestValidator` (HMAC-SHA1
over the exact URL Twilio called plus the sorted form fields, keyed by the auth token).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from twilio.request_validator import RequestValidator

from statuspage.core.languages import SOURCE_LANGUAGE
from statuspage.core.translation import N_, gettext

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5

# Twilio's default opt-out, opt-in and help words (Messaging Services, long codes).
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_NUMBER_PUNCTUATION = re.compile(r"[\s().\-/]")


def normalise_number(raw: str) -> str | None:
    """An E.164 number ("+441632960961") from what a reader typed, or None.

    Spaces, dots, dashes, slashes and brackets are dropped and a leading "00" read as "+";
    a number without its country code is refused (we cannot guess it).
    """
    number = _NUMBER_PUNCTUATION.sub("", raw or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    return number if _E164.match(number) else None


def mask_number(number: str) -> str:
    """ "+44••••••0961": enough to recognise one's own number, not to read it from a log."""
    if len(number) <= 6:
        return "•" * len(number)
    return number[:3] + "•" * (len(number) - 7) + number[-4:]


# --- opt-in codes ---


class CodeCheck(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"  # no tries left: ask for a new code


@dataclass(frozen=True)
class OptInChallenge:
    """What is stored for a code sent: its hash, when it dies, the tries left."""

    code_hash: str
    expires_at: datetime
    attempts_left: int = MAX_ATTEMPTS


def hash_code(secret: str | bytes, number: str, code: str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    message = f"sms-opt-in\x00{number}\x00{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def new_code(secret: str | bytes, number: str, *, now: datetime) -> tuple[str, OptInChallenge]:
    """(the code to text, what to store). The code itself is never stored."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    challenge = OptInChallenge(code_hash=hash_code(secret, number, code), expires_at=now + CODE_TTL)
    return code, challenge


def check_code(
    secret: str | bytes,
    number: str,
    challenge: OptInChallenge,
    typed: str,
    *,
    now: datetime,
) -> tuple[CodeCheck, OptInChallenge]:
    """The verdict and the challenge to store after this try (one try fewer unless it
    passed). Spaces and dashes in what was typed are ignored."""
    if challenge.attempts_left <= 0:
        return CodeCheck.LOCKED, challenge
    if now >= challenge.expires_at:
        return CodeCheck.EXPIRED, challenge
    code = re.sub(r"[\s\-]", "", typed or "")
    expected = challenge.code_hash
    # Compare hashes in constant time, and hash even malformed input, so timing tells nothing.
    if hmac.compare_digest(hash_code(secret, number, code), expected) and code.isdigit():
        return CodeCheck.OK, replace(challenge, attempts_left=0)
    left = challenge.attempts_left - 1
    return (CodeCheck.WRONG if left > 0 else CodeCheck.LOCKED), replace(
        challenge, attempts_left=left
    )


# Every translation keeps the word STOP as it is: Twilio and the carriers act on it.
OPT_IN = N_(
    "%(page)s: your code is %(code)s. It confirms status alerts by SMS to this number. "
    "Reply STOP to opt out."
)


def opt_in_text(page_name: str, code: str, language: str = SOURCE_LANGUAGE) -> str:
    """The SMS carrying the code, in the language the person chose: short (one GSM-7
    segment in English), says who sends it and how to stop."""
    return gettext(OPT_IN, language or SOURCE_LANGUAGE, page=page_name, code=code)


# --- keywords ---


class Keyword(enum.StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


def classify_keyword(body: str | None, opt_out_type: str | None = None) -> Keyword | None:
    """STOP, START or HELP for an inbound message, or None for any other text.

    Twilio's `OptOutType` (sent with Advanced Opt-Out) wins when present; otherwise the whole
    message must be one of the words ("stop", " Stop! "), not a sentence that contains one.
    """
    if opt_out_type:
        try:
            return Keyword(opt_out_type.strip().lower())
        except ValueError:
            pass
    word = re.sub(r"[^A-Za-z]", "", (body or "").strip()) if body else ""
    if not word or len((body or "").split()) != 1:
        return None
    word = word.upper()
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


# --- Twilio's signature on inbound requests ---


def valid_twilio_signature(
    auth_token: str, url: str, form: Mapping[str, str], signature: str | None
) -> bool:
    """True when `signature` (the X-Twilio-Signature header) signs this exact URL and form."""
    if not auth_token or not signature:
        return False
    try:
        return bool(RequestValidator(auth_token).validate(url, dict(form), signature))
    except (ValueError, TypeError):
        return False


def sign_twilio_request(auth_token: str, url: str, form: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send (for the tests' stand-in and for docs)."""
    return RequestValidator(auth_token).compute_signature(url, dict(form))
