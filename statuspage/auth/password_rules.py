"""What a password must be: long enough, and not one that attackers try first.

NIST SP 800-63B's advice, which we follow: a minimum length, a maximum generous enough for
passphrases, no composition rules (they make passwords harder to remember, not harder to
guess), and a check against passwords known to be common. The list is
`common_passwords.txt` beside this module: the 20,000 most common passwords from breach
corpora, as Django ships it (source and license in `common_passwords.LICENSE`).

Besides an exact match (ignoring case), a password is refused when it is a common password
with digits or punctuation added at the end ("password2024!"), or one short piece repeated
("passwordpassword", "aaaaaaaaaaaa"): the first variations a guessing tool tries.

Flask-free: the CLI, the admin views and any password change path call `password_problem`
(through `statuspage.auth.users`).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from statuspage.auth.passwords import MIN_PASSWORD_LENGTH
from statuspage.core.translation import N_

MAX_PASSWORD_LENGTH = 1024
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")

# Digits and punctuation people append to a word to pass a length or "special character" rule.
_DECORATION_AT_END = re.compile(r"[\d\W_]+$")
# A shorter piece repeated to fill the length: "abcabcabcabc", "passwordpassword".
_REPEATED = re.compile(r"^(.+?)\1+$", re.DOTALL)
# A common word must be at least this long to count when decorated: "a" + 11 digits is caught
# by the other rules or is not common.
_MIN_DECORATED_BASE = 4


@cache
def common_passwords() -> frozenset[str]:
    """The list, lowercased, read once per process."""
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def password_problem(password: str) -> str | None:
    """Why `password` may not be used, in words for the person choosing it; None when fine."""
    broken = broken_rule(password)
    if broken is None:
        return None
    message, params = broken
    return message % params if params else message


def broken_rule(password: str) -> tuple[str, dict[str, object]] | None:
    """The rule `password` breaks as a msgid and its parameters (for a refusal shown in the
    reader's language); None when fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return N_("The password must have at least %(min)s characters."), {
            "min": MIN_PASSWORD_LENGTH
        }
    if len(password) > MAX_PASSWORD_LENGTH:
        return N_("The password must have at most %(max)s characters."), {
            "max": MAX_PASSWORD_LENGTH
        }
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or lowered.strip() in common:
        return N_("That password is among the most common ones; choose another."), {}
    base = _DECORATION_AT_END.sub("", lowered)
    if base != lowered and len(base) >= _MIN_DECORATED_BASE and base in common:
        return N_(
            "That password is a common one with digits or symbols added; "
            "choose something less predictable."
        ), {}
    if _REPEATED.match(lowered):
        return N_("That password repeats one short piece; choose something less predictable."), {}
    return None
