"""Time-based one-time passwords, over `pyotp`, and how their secrets are kept.

The codes themselves (RFC 4226's HOTP, RFC 6238's TOTP, the otpauth URI) are pyotp's. What
this module adds is our policy around it:

- What authenticator apps expect: HMAC-SHA-1, 6 digits, 30-second steps. A code is accepted
  for the current step and one step either side (clocks drift, people type slowly), and only
  for a step later than the last one accepted, so each code works once
  (`matching_step(after_step=)`; the caller stores the step, see `second_factor`).
- A code is six ASCII digits, spaces ignored; anything else is refused before pyotp sees it.
- Secrets are stored encrypted (AES-256-GCM, from `cryptography`) under a key derived from
  `SECRET_KEY` with HKDF, the user's id bound in as associated data so a stored secret cannot
  be copied onto another row. A database dump or backup alone therefore does not give away
  second factors. The price: `SECRET_KEY` decrypts them, so rotating it needs the old key in
  `SECRET_KEY_FALLBACKS` until every enrolled user has logged in once (each successful code
  re-encrypts the secret under the current key); a key lost without a fallback leaves those
  users to have their two-factor reset by an admin.

Flask-free and database-free: plain functions over bytes, strings and times.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of the current one
SECRET_LENGTH = 32  # base32 characters: 160 bits, RFC 4226's recommended length for SHA-1

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_FORMAT = "v1"
_KDF_INFO = b"statuspage totp secret v1"


def new_secret() -> str:
    """A random secret in base32 without padding, as authenticator apps take it."""
    return pyotp.random_base32(length=SECRET_LENGTH)


def _clean(secret: str) -> str:
    return secret.replace(" ", "").upper()


def secret_bytes(secret: str) -> bytes:
    """The key bytes of a base32 secret (spaces and case ignored, padding optional)."""
    return pyotp.TOTP(_clean(secret)).byte_secret()


def _b32(key: bytes) -> str:
    return base64.b32encode(key).decode()


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, algorithm: str = "sha1") -> str:
    """RFC 4226: the code for `counter` (pyotp's HOTP over the raw key)."""
    return pyotp.HOTP(_b32(key), digits=digits, digest=_ALGORITHMS[algorithm]).at(counter)


def time_step(at: datetime | float) -> int:
    """The 30-second step a moment falls in (T0 = the Unix epoch), as pyotp counts it."""
    seconds = at.timestamp() if isinstance(at, datetime) else at
    return int(seconds // STEP_SECONDS)


def totp(key: bytes, at: datetime | float, *, digits: int = DIGITS, algorithm: str = "sha1") -> str:
    """RFC 6238: the code of the time step `at` falls in (pyotp's TOTP over the raw key)."""
    otp = pyotp.TOTP(_b32(key), digits=digits, digest=_ALGORITHMS[algorithm], interval=STEP_SECONDS)
    return otp.at(at)


def normalize_code(code: str) -> str | None:
    """The code as typed, without spaces; None unless it is exactly six ASCII digits.

    pyotp compares after NFKC normalisation, which would take full-width digits for ASCII
    ones: refusing them here keeps "a code is six digits" a rule of ours."""
    cleaned = "".join(code.split())
    if len(cleaned) != DIGITS or not cleaned.isascii() or not cleaned.isdigit():
        return None
    return cleaned


def matching_step(
    secret: str, code: str, *, now: datetime, after_step: int | None = None, window: int = WINDOW
) -> int | None:
    """The step whose code `code` is, within `window` steps of `now` and later than
    `after_step`; None if there is none (wrong, too old, or already used)."""
    cleaned = normalize_code(code)
    if cleaned is None:
        return None
    otp = pyotp.TOTP(_clean(secret), digits=DIGITS, interval=STEP_SECONDS)
    try:
        step = otp.verify_and_get_timecode(cleaned, for_time=now, valid_window=window)
    except pyotp.OTPVerificationError:
        return None
    if after_step is not None and step <= after_step:
        return None  # this step, or a later one, was used already
    return step


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The `otpauth://` URI authenticator apps read (Key Uri Format), pyotp's."""
    otp = pyotp.TOTP(_clean(secret), digits=DIGITS, interval=STEP_SECONDS)
    return otp.provisioning_uri(name=account, issuer_name=issuer)


# Encryption of the stored secret.


class SecretUnreadable(Exception):
    """No configured key opens the stored secret (SECRET_KEY changed without a fallback)."""


def _key(secret_key: str | bytes) -> bytes:
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO).derive(material)


def _associated_data(user_id: int) -> bytes:
    return f"user:{user_id}".encode()


def encrypt_secret(secret: str, *, secret_key: str | bytes, user_id: int) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(secret_key)).encrypt(nonce, secret.encode(), _associated_data(user_id))
    return f"{_FORMAT}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt_secret(
    stored: str, *, secret_keys: Sequence[str | bytes], user_id: int
) -> tuple[str, bool]:
    """The secret, and whether the first (current) key opened it. Later keys are fallbacks
    kept while `SECRET_KEY` is rotated; a secret opened by one should be encrypted again."""
    version, _, payload = stored.partition(":")
    if version != _FORMAT or not payload:
        raise SecretUnreadable("unknown stored secret format")
    raw = base64.urlsafe_b64decode(payload.encode())
    nonce, sealed = raw[:12], raw[12:]
    for index, secret_key in enumerate(secret_keys):
        try:
            plain = AESGCM(_key(secret_key)).decrypt(nonce, sealed, _associated_data(user_id))
        except InvalidTag:
            continue
        return plain.decode(), index == 0
    raise SecretUnreadable("no configured key opens the stored secret")
