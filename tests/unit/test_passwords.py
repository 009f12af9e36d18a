import pytest

from domain.passwords import MIN_LENGTH, common_passwords, password_problem


def test_the_common_password_list_ships_with_the_package():
    assert len(common_passwords()) > 2000
    assert "password1234" in common_passwords()


@pytest.mark.parametrize("password", ["short", "elevenchars", " " * 11])
def test_passwords_shorter_than_twelve_characters_are_refused(password):
    assert "at least 12" in password_problem(password)


@pytest.mark.parametrize("password", ["Password1234", "QWERTYUIOPASDFGHJKL", "iloveyou2024!", "123456789012"])
def test_common_passwords_are_refused_whatever_their_case(password):
    assert "commonly used" in password_problem(password)


def test_the_username_is_not_a_password():
    assert password_problem("Alice.Example", "alice.example") == "password must not be the username"


def test_a_long_unusual_passphrase_is_accepted_with_its_whitespace():
    assert password_problem("  purple tractor  sings ") is None
    assert len("  purple tractor  sings ") > MIN_LENGTH


def test_an_overlong_password_is_refused():
    assert "at most" in password_problem("x1" * 101)
