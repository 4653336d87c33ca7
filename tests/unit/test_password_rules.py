"""Password rules (statuspage/auth/password_rules.py): long enough, not a common password."""

import pytest

from statuspage.auth import password_rules
from statuspage.auth.password_rules import common_passwords, password_problem


def test_the_shipped_list_is_the_common_passwords_list():
    common = common_passwords()
    assert len(common) > 19_000
    for password in ("123456", "password", "qwerty", "iloveyou", "1qaz2wsx3edc"):
        assert password in common
    assert all(entry == entry.lower() for entry in common)
    assert password_rules.COMMON_PASSWORDS_FILE.with_suffix(".LICENSE").exists()


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "a perfectly long password",  # the tests' own
        "Tr0ub4dor&3-but-longer",
        "zq8#Lm2!vX9p",  # exactly 12
        "ünïcödé pässwörd",
        "p" * 11 + "q",
    ],
)
def test_long_uncommon_passwords_are_accepted(password):
    assert password_problem(password) is None


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("", "at least 12 characters"),
        ("short", "at least 12 characters"),
        ("elevenchars", "at least 12 characters"),
        ("x" * 1025, "at most 1024 characters"),
        # In the list, as they are or in another case.
        ("qazwsxedcrfv", "among the most common"),
        ("QaZwSxEdCrFv", "among the most common"),
        ("1q2w3e4r5t6y", "among the most common"),
        ("123456654321", "among the most common"),
        ("password1234", "among the most common"),
        # A common one with digits or symbols added at the end.
        ("password2024!", "digits or symbols added"),
        ("Iloveyou12345", "digits or symbols added"),
        ("sunshine_1999", "digits or symbols added"),
        # One short piece repeated.
        ("aaaaaaaaaaaa", "repeats one short piece"),
        ("abcabcabcabc", "repeats one short piece"),
        ("Xk9!Xk9!Xk9!", "repeats one short piece"),
    ],
)
def test_short_common_and_predictable_passwords_are_refused(password, words):
    problem = password_problem(password)
    assert problem is not None and words in problem


def test_twelve_characters_is_the_minimum():
    assert password_problem("zq8#Lm2!vX9") is not None  # 11
    assert password_problem("zq8#Lm2!vX9p") is None  # 12


def test_a_short_common_word_with_a_long_tail_is_not_refused_for_the_word():
    # "abc" is common, but 3 letters followed by 9 random digits is not a guessable pattern
    # of the list; only bases of 4 or more characters count.
    assert password_problem("abc740193826") is None


def test_the_list_is_read_once():
    assert common_passwords() is common_passwords()
