from argon2 import Type

from server import passwords


def test_production_hashing_is_argon2id_with_owasp_strength() -> None:
    # The session fixture swaps in a cheap hasher; the module's default must stay strong.
    default = passwords.PRODUCTION_HASHER
    assert default.type is Type.ID
    assert default.memory_cost >= 19 * 1024 and default.time_cost >= 2
    assert default.hash("correct horse").startswith("$argon2id$")


def test_a_wrong_password_or_missing_hash_never_verifies() -> None:
    stored = passwords.hash_password("correct horse")
    assert passwords.verify_password(stored, "correct horse")
    assert not passwords.verify_password(stored, "wrong horse")
    assert not passwords.verify_password(None, "correct horse")
    assert not passwords.verify_password("garbage", "correct horse")
