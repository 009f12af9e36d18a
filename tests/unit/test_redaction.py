import pytest

from domain.redaction import is_sensitive, redact_file_actual, scrub


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/gshadow-", "/etc/ssh/ssh_host_ed25519_key",
                                  "/root/.ssh/id_rsa", "/home/alice/.ssh/id_ed25519", "/etc/ssl/private/site.key"])
def test_secret_files_are_sensitive(path):
    assert is_sensitive(path)


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/ssh/sshd_config", "/etc/ssh/ssh_host_ed25519_key.pub",
                                  "/etc/login.defs"])
def test_ordinary_files_are_not(path):
    assert not is_sensitive(path)


def test_an_account_line_shows_only_the_account_and_whether_the_password_is_empty():
    line = "root:$6$salt$hashhashhash:19000:0:99999:7:::"
    assert redact_file_actual(("/etc/shadow",), line) == "root:<redacted>"
    assert redact_file_actual(("/etc/shadow",), "guest::19000:0:99999:7:::") == "guest:<empty>"


def test_a_sensitive_file_reached_through_a_link_is_redacted_by_its_resolved_name():
    assert redact_file_actual(("/tmp/innocent", "/etc/shadow"), "root:x:1") == "root:<redacted>"
    key = redact_file_actual(("/tmp/k", "/etc/ssh/ssh_host_rsa_key"), "-----BEGIN OPENSSH PRIVATE KEY-----")
    assert key == "a line matches (content not shown: sensitive file)"


def test_outcomes_that_carry_no_content_are_kept():
    assert redact_file_actual(("/etc/shadow",), "no line in /etc/shadow matches") == "no line in /etc/shadow matches"
    assert redact_file_actual(("/etc/ssh/sshd_config",), "PermitRootLogin no") == "PermitRootLogin no"


def test_hashes_and_private_keys_are_scrubbed_from_any_text():
    assert scrub("user alice $6$abc$def:1") == "user alice <hash redacted>:1"
    assert scrub("x -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- y") == \
        "x <private key redacted> y"
