"""Verdicts, and how a setting's value is compared with what a rule expects: shared by every evaluator."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from domain.probe import HostProbe
from domain.rule_views import RegistryScalar

Status = Literal["pass", "fail", "error", "skip"]
# How long a probe command (systemctl, modprobe, sshd -T, dpkg-query ...) may take.
PROBE_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Evaluation:
    status: Status
    actual: str


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def not_applicable(host: HostProbe) -> Evaluation:
    return Evaluation("skip", f"not applicable on {host.os_type}")


def offline(what: str) -> Evaluation:
    return Evaluation("skip", f"{what} needs the running system; not judged in an offline scan")


def combine(verdicts: Sequence[Evaluation]) -> Evaluation:
    """Several conditions of one check: any error or failure decides, all skipped is a skip, else a pass."""
    for status in ("error", "fail"):
        bad = [verdict.actual for verdict in verdicts if verdict.status == status]
        if bad:
            return Evaluation(status, "; ".join(bad))
    if all(verdict.status == "skip" for verdict in verdicts):
        return Evaluation("skip", "; ".join(verdict.actual for verdict in verdicts))
    return Evaluation("pass", "; ".join(verdict.actual for verdict in verdicts if verdict.status == "pass"))


def compare(value: RegistryScalar, op: str, expected: RegistryScalar | list[RegistryScalar]) -> bool:
    if isinstance(expected, list):
        if op == "in":
            return any(equal(value, option) for option in expected)
        allowed = {str(option).strip().casefold() for option in expected}
        items = {item.strip().casefold() for item in str(value).split(",") if item.strip()}
        if op == "subset":
            return bool(items) and items <= allowed
        if op == "disjoint":
            return not items & allowed
        assert op == "between"
        number = as_int(value, "value")
        return int(expected[0]) <= number <= int(expected[1])
    if op in ("eq", "ne"):
        return equal(value, expected) == (op == "eq")
    return ordered(as_int(value, "value"), op, int(expected))


def described(op: str, expected: RegistryScalar | list[RegistryScalar]) -> str:
    if isinstance(expected, list):
        shown = ",".join(str(item) for item in expected)
        return f"between {expected[0]} and {expected[1]}" if op == "between" else f"{op} [{shown}]"
    return f"{op} {expected}"


def judged(ok: bool, seen: str, op: str, expected: RegistryScalar | list[RegistryScalar]) -> Evaluation:
    return Evaluation("pass", seen) if ok else Evaluation("fail", f"{seen}, expected {described(op, expected)}")


def equal(value: RegistryScalar, expected: RegistryScalar) -> bool:
    left, right = str(value).strip(), str(expected).strip()
    if re.fullmatch(r"-?\d+", left) and re.fullmatch(r"-?\d+", right):
        return int(left) == int(right)
    return left.casefold() == right.casefold()


def ordered(value: int, op: str, expected: int) -> bool:
    return value >= expected if op == "ge" else value <= expected


def as_int(value: RegistryScalar, label: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{label} {value!r} is not an integer") from None
