"""LocalHost: the HostProbe for the machine the agent runs on."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Literal

from domain.probe import CommandNotFound, CommandResult, CommandTimeout, FileStat

MAX_READ_BYTES = 16 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024
# Agents are often started with a minimal PATH; administrative tools live in the sbin folders.
_EXTRA_PATH = ("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin")
_HIVES = ("HKLM", "HKCU", "HKU")


def detect_os_type(platform: str = sys.platform) -> Literal["linux", "windows", "bsd"]:
    if platform.startswith("win"):
        return "windows"
    if platform.startswith("linux"):
        return "linux"
    if "bsd" in platform or platform.startswith(("dragonfly", "darwin")):
        return "bsd"
    raise RuntimeError(f"unsupported platform {platform!r}")


class LocalHost:
    """Reads files, runs programs and queries Windows settings on this machine.

    The security policy export is cached, so use one LocalHost per scan.
    """

    running = True

    def __init__(self) -> None:
        self.os_type = detect_os_type()
        self._search_path = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
        self._policy: dict[str, dict[str, str]] | None = None

    def read_file(self, path: str) -> str | None:
        chunks: list[bytes] = []
        size = 0
        try:
            # Read in chunks: procfs files report size 0, and one huge read() can fail there with ENOMEM.
            with open(path, "rb") as handle:
                while size < MAX_READ_BYTES and (chunk := handle.read(_CHUNK_BYTES)):
                    chunks.append(chunk)
                    size += len(chunk)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return b"".join(chunks)[:MAX_READ_BYTES].decode("utf-8", errors="replace")

    def stat(self, path: str) -> FileStat | None:
        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return FileStat(
            mode=stat.S_IMODE(info.st_mode),
            owner=_user_name(info.st_uid),
            group=_group_name(info.st_gid),
            is_dir=stat.S_ISDIR(info.st_mode),
        )

    def list_dir(self, path: str) -> list[str] | None:
        try:
            return sorted(os.listdir(path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_link(self, path: str) -> str | None:
        try:
            return os.readlink(path)
        except (FileNotFoundError, NotADirectoryError, OSError):
            return None

    def which(self, name: str) -> bool:
        return shutil.which(name, path=self._search_path) is not None

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        program = shutil.which(argv[0], path=self._search_path)
        if program is None:
            raise CommandNotFound(argv[0])
        env = {**os.environ, "PATH": self._search_path, "LC_ALL": "C", "LANG": "C"}
        try:
            completed = subprocess.run(
                [program, *argv[1:]],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                env=env,
                check=False,
            )
        except FileNotFoundError as exc:
            raise CommandNotFound(argv[0]) from exc
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeout(f"{argv[0]} did not finish within {timeout:g}s") from exc
        return CommandResult(
            exit_code=completed.returncode,
            stdout=completed.stdout.decode("utf-8", errors="replace"),
            stderr=completed.stderr.decode("utf-8", errors="replace"),
        )

    def read_registry(self, hive: str, key: str, value_name: str) -> str | int | None:
        if self.os_type != "windows":
            raise RuntimeError("the registry exists only on Windows")
        import winreg  # type: ignore[import-not-found]  # only present on Windows

        roots = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER, "HKU": winreg.HKEY_USERS}
        if hive not in _HIVES:
            raise ValueError(f"unknown hive {hive!r}")
        try:
            with winreg.OpenKey(roots[hive], key, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as handle:
                value, kind = winreg.QueryValueEx(handle, value_name)
        except FileNotFoundError:
            return None
        if kind == winreg.REG_MULTI_SZ:
            return ",".join(value)
        if kind == winreg.REG_BINARY:
            return bytes(value).hex()
        return value if isinstance(value, int) else str(value)

    def security_policy(self) -> dict[str, dict[str, str]]:
        if self.os_type != "windows":
            raise RuntimeError("the local security policy exists only on Windows")
        if self._policy is None:
            self._policy = self._export_security_policy()
        return self._policy

    def _export_security_policy(self) -> dict[str, dict[str, str]]:
        with tempfile.TemporaryDirectory() as folder:
            target = os.path.join(folder, "secpol.inf")
            result = self.run(["secedit", "/export", "/cfg", target, "/quiet"], timeout=120)
            if result.exit_code != 0 or not os.path.exists(target):
                raise RuntimeError(f"secedit /export failed with exit code {result.exit_code}")
            with open(target, "rb") as handle:
                raw = handle.read()
        return parse_security_template(raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode())


def parse_security_template(text: str) -> dict[str, dict[str, str]]:
    """Parse the INF text that `secedit /export` writes: [Section] headers and `Name = value` lines."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        line = line.strip().lstrip("\ufeff")
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
        elif current is not None and "=" in line:
            name, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            current[name.strip()] = value
    return sections


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return str(gid)
