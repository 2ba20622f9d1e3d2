"""The `parley token` command mints HS256 tokens the request path accepts."""

from __future__ import annotations

import subprocess
import sys

from parley import config, tokens


def parley(*arguments: str, state_dir) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "parley.cli", *arguments],
        capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "PARLEY_STATE_DIR": str(state_dir)},
    )  # fmt: skip
    return completed.stdout.strip()


def test_token_for_a_user_by_email_carries_sub_email_and_authenticated_role(database, tmp_path):
    user = database.create_user("cli")
    token = parley("token", "--user", user.email, "--database-url", database.url, state_dir=tmp_path)
    claims = tokens.verify(config.load_or_create_secrets(tmp_path).jwt_secret, token)
    assert (claims["sub"], claims["email"], claims["role"]) == (str(user.id), user.email, "authenticated")


def test_token_for_a_bare_role_has_no_subject(tmp_path):
    token = parley("token", "--role", "service_role", "--expires-in", "60", state_dir=tmp_path)
    claims = tokens.verify(config.load_or_create_secrets(tmp_path).jwt_secret, token)
    assert claims["role"] == "service_role"
    assert "sub" not in claims
    assert claims["exp"] - claims["iat"] == 60


def test_token_for_an_unknown_user_fails(database, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "parley.cli", "token", "--user", "nobody@nowhere", "--database-url", database.url],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PARLEY_STATE_DIR": str(tmp_path)},
    )  # fmt: skip
    assert completed.returncode == 1
    assert "no user 'nobody@nowhere'" in completed.stderr
