"""TOTP (statuspage.auth.totp, over pyotp): RFC 4226 and RFC 6238 test vectors, the window,
single use, the otpauth URI and the encryption of stored secrets."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from statuspage.auth import totp

RFC_SHA1_KEY = b"12345678901234567890"
RFC_SHA256_KEY = b"12345678901234567890123456789012"
RFC_SHA512_KEY = b"1234567890123456789012345678901234567890123456789012345678901234"

# RFC 4226, appendix D: HOTP values for counters 0..9.
HOTP_VECTORS = [
    "755224", "287082", "359152", "969429", "338314",
    "254676", "287922", "162583", "399871", "520489",
]  # fmt: skip

# RFC 6238, appendix B: (Unix time, SHA-1, SHA-256, SHA-512), 8 digits.
TOTP_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("counter", range(10))
def test_hotp_matches_rfc_4226(counter):
    assert totp.hotp(RFC_SHA1_KEY, counter) == HOTP_VECTORS[counter]


@pytest.mark.parametrize(("seconds", "sha1", "sha256", "sha512"), TOTP_VECTORS)
def test_totp_matches_rfc_6238(seconds, sha1, sha256, sha512):
    assert totp.totp(RFC_SHA1_KEY, seconds, digits=8) == sha1
    assert totp.totp(RFC_SHA256_KEY, seconds, digits=8, algorithm="sha256") == sha256
    assert totp.totp(RFC_SHA512_KEY, seconds, digits=8, algorithm="sha512") == sha512


def test_a_datetime_and_its_timestamp_give_the_same_code():
    at = datetime.fromtimestamp(1111111109, UTC)
    assert totp.totp(RFC_SHA1_KEY, at, digits=8) == "07081804"
    assert totp.time_step(at) == 1111111109 // 30


def test_new_secrets_are_160_bit_base32_and_differ():
    first, second = totp.new_secret(), totp.new_secret()
    assert first != second
    assert len(totp.secret_bytes(first)) == 20
    assert len(first) == 32 and first.isalnum() and first.isupper()


def test_secret_bytes_ignores_spaces_case_and_missing_padding():
    secret = totp.new_secret()
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)).lower()
    assert totp.secret_bytes(spaced) == totp.secret_bytes(secret)


NOW = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)


def _code(secret, at):
    return totp.totp(totp.secret_bytes(secret), at)


def test_the_current_code_and_one_step_either_side_are_accepted():
    secret = totp.new_secret()
    step = totp.time_step(NOW)
    for offset in (-1, 0, 1):
        code = _code(secret, NOW + timedelta(seconds=30 * offset))
        assert totp.matching_step(secret, code, now=NOW) == step + offset


def test_codes_two_steps_away_are_refused():
    secret = totp.new_secret()
    for offset in (-2, 2):
        code = _code(secret, NOW + timedelta(seconds=30 * offset))
        if code in {_code(secret, NOW + timedelta(seconds=30 * o)) for o in (-1, 0, 1)}:
            continue  # a one-in-a-million collision with a valid code
        assert totp.matching_step(secret, code, now=NOW) is None


def test_a_code_is_refused_once_its_step_or_a_later_one_was_used():
    secret = totp.new_secret()
    step = totp.time_step(NOW)
    code = _code(secret, NOW)
    assert totp.matching_step(secret, code, now=NOW, after_step=step - 1) == step
    assert totp.matching_step(secret, code, now=NOW, after_step=step) is None
    assert totp.matching_step(secret, code, now=NOW, after_step=step + 1) is None
    # An older code than the last used one is refused too, even inside the window.
    older = _code(secret, NOW - timedelta(seconds=30))
    assert totp.matching_step(secret, older, now=NOW, after_step=step) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "abcdef"])
def test_malformed_codes_are_refused(typed):
    assert totp.normalize_code(typed) is None
    assert totp.matching_step(totp.new_secret(), typed, now=NOW) is None


def test_the_right_code_in_other_digits_is_refused():
    """pyotp compares NFKC-normalised strings, which would take full-width digits for ASCII
    ones; a code is six ASCII digits, whatever pyotp would make of it."""
    secret = totp.new_secret()
    code = _code(secret, NOW)
    full_width = "".join(chr(ord(digit) - ord("0") + ord("\uff10")) for digit in code)
    assert totp.matching_step(secret, full_width, now=NOW) is None
    assert totp.matching_step(secret, code, now=NOW) is not None


def test_spaces_inside_a_code_are_ignored():
    secret = totp.new_secret()
    code = _code(secret, NOW)
    assert totp.matching_step(secret, f" {code[:3]} {code[3:]} ", now=NOW) is not None


def test_provisioning_uri_names_issuer_account_and_parameters():
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, account="ann@example.com", issuer="Acme Status")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path) == "/Acme Status:ann@example.com"
    # What an app reads: parameters left out take the Key Uri Format's defaults.
    defaults = {"algorithm": "SHA1", "digits": "6", "period": "30"}
    query = defaults | {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query == {
        "secret": secret,
        "issuer": "Acme Status",
        "algorithm": "SHA1",
        "digits": "6",
        "period": "30",
    }
    assert len(parse_qs(parts.query)["secret"]) == 1


def test_stored_secrets_are_encrypted_and_bound_to_their_user():
    secret = totp.new_secret()
    stored = totp.encrypt_secret(secret, secret_key="key one", user_id=7)
    assert secret not in stored
    assert stored != totp.encrypt_secret(secret, secret_key="key one", user_id=7)  # fresh nonce
    assert totp.decrypt_secret(stored, secret_keys=["key one"], user_id=7) == (secret, True)
    with pytest.raises(totp.SecretUnreadable):
        totp.decrypt_secret(stored, secret_keys=["key one"], user_id=8)
    with pytest.raises(totp.SecretUnreadable):
        totp.decrypt_secret(stored, secret_keys=["another key"], user_id=7)
    with pytest.raises(totp.SecretUnreadable):
        totp.decrypt_secret("JBSWY3DPEHPK3PXP", secret_keys=["key one"], user_id=7)


def test_a_fallback_key_opens_a_secret_and_says_it_is_not_the_current_one():
    secret = totp.new_secret()
    stored = totp.encrypt_secret(secret, secret_key="old key", user_id=3)
    assert totp.decrypt_secret(stored, secret_keys=["new key", "old key"], user_id=3) == (
        secret,
        False,
    )


def test_the_totp_modules_load_no_flask():
    code = (
        "import sys, statuspage.auth.totp, statuspage.auth.second_factor; "
        "sys.exit(1 if 'flask' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
