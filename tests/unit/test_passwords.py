from argon2 import extract_parameters

from statuspage.auth import passwords


def test_production_hasher_is_argon2id_at_the_recommended_cost():
    # The test session swaps in a cheap hasher (tests/conftest.py); the one the module builds
    # for production is checked here.
    hashed = passwords.make_hasher().hash("correct horse battery staple")
    parameters = extract_parameters(hashed)
    assert hashed.startswith("$argon2id$")
    assert parameters.memory_cost >= 19 * 1024  # at least OWASP's argon2id minimum
    assert parameters.time_cost >= 2


def test_verify_accepts_the_right_password_only():
    hashed = passwords.hash_password("a long enough password")
    assert passwords.verify_password(hashed, "a long enough password")
    assert not passwords.verify_password(hashed, "a long enough passwore")
    assert not passwords.verify_password("not a hash", "anything")
