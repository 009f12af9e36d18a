"""Per-installation secrets and private folders for `make run`: generated once, kept in .data/ out of others' reach."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

SECRETS_FOLDER = "secrets"
JWT_SECRET_FILE = "jwt-secret"


def private_folder(path: Path, group_id: int | None = None) -> Path:
    """A folder only its owner may enter: 0700, or 0710 when one service group must pass through to reach a
    folder inside (the embedded PostgreSQL's own user, when `make run` runs as root)."""
    path.mkdir(parents=True, exist_ok=True)
    if group_id is not None:
        os.chown(path, -1, group_id)
        path.chmod(0o710)
    else:
        path.chmod(0o700)
    return path


def read_or_create_secret(path: Path, nbytes: int = 48) -> str:
    """The secret in `path`, made on first use (0600, created exclusively so no one can slip in a file)."""
    private_folder(path.parent)
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if value:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return value
    value = secrets.token_urlsafe(nbytes)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value


def jwt_secret(data_dir: Path) -> str:
    return read_or_create_secret(data_dir / SECRETS_FOLDER / JWT_SECRET_FILE)


def close_to_others(root: Path, skip: tuple[Path, ...] = ()) -> None:
    """Take away every permission of 'other' users below `root` (data written before the umask was set)."""
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if any(here == s or s in here.parents for s in skip):
            dirs[:] = []
            continue
        for name in [*dirs, *files]:
            path = here / name
            try:
                mode = path.lstat().st_mode
                if not stat.S_ISLNK(mode) and mode & 0o007:
                    path.chmod(stat.S_IMODE(mode) & ~0o007)
            except FileNotFoundError:
                continue
