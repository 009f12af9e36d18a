"""HostProbe: how rule evaluation sees a host — its files, programs and settings — and what it gets back."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class FileStat:
    mode: int
    owner: str
    group: str
    is_dir: bool


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


class CommandNotFound(Exception):
    """The program to run does not exist on the host."""


class CommandTimeout(Exception):
    """The program did not finish within its timeout."""


class HostProbe(Protocol):
    os_type: Literal["linux", "windows", "bsd"]
    # False when the probe sees only a root filesystem (a mounted disk, an exported container image): nothing
    # about the running kernel, mounts or services can be read, and no command may run.
    running: bool

    def read_file(self, path: str) -> str | None: ...

    def stat(self, path: str) -> FileStat | None: ...

    def list_dir(self, path: str) -> list[str] | None: ...

    def read_link(self, path: str) -> str | None: ...

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult: ...

    def which(self, name: str) -> bool: ...

    def read_registry(self, hive: str, key: str, value_name: str) -> str | int | None: ...

    def security_policy(self) -> dict[str, dict[str, str]]: ...
