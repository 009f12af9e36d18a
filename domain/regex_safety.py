"""Rule regular expressions that cannot stall a host or the API: RE2 (linear time) runs every pattern it can
express; the few it cannot (look-arounds, back-references) run on Python's engine only when they have no shape
that backtracks exponentially, and such shapes are refused when a rule is validated. The standard-library agent,
which has no RE2, runs every pattern on Python's engine and refuses those shapes itself."""

from __future__ import annotations

import re
from functools import lru_cache
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parser  # type: ignore[attr-defined]

try:
    import re2
except ModuleNotFoundError:  # the installable agent: standard library only
    re2 = None

# A bounded repeat this large behaves like an unbounded one for backtracking purposes.
MANY = 16
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)


def backtracking_hazard(pattern: str) -> str | None:
    """Why `pattern` can take exponential time on a backtracking engine, or None.

    The classic catastrophic shapes: a quantifier over something that itself repeats (`(a+)+`, `(\\w*\\s?)*`)
    and a quantifier over an alternation (`(a|aa)*`), where the engine may try every way of splitting the text.
    """
    try:
        parsed = sre_parser.parse(pattern)
    except re.error:
        return None  # reported as invalid by the caller
    return _hazard(list(parsed), under_repeat=False)


def _hazard(items: list, under_repeat: bool) -> str | None:
    for op, av in items:
        if op in _REPEATS:
            low, high, body = av
            many = high == sre_constants.MAXREPEAT or high >= MANY
            if under_repeat and high > 1:
                return "a quantifier inside another quantifier"
            if problem := _hazard(list(body), under_repeat or many):
                return problem
        elif op is sre_constants.SUBPATTERN:
            if problem := _hazard(list(av[-1]), under_repeat):
                return problem
        elif op is sre_constants.BRANCH:
            if under_repeat:
                return "an alternation inside a quantifier"
            for branch in av[1]:
                if problem := _hazard(list(branch), under_repeat):
                    return problem
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            if problem := _hazard(list(av[1]), under_repeat):
                return problem
        elif op is sre_constants.GROUPREF_EXISTS:
            for branch in av[1:]:
                if branch is not None and (problem := _hazard(list(branch), under_repeat)):
                    return problem
        # POSSESSIVE_REPEAT and ATOMIC_GROUP never backtrack into themselves: nothing to look for inside.
    return None


def validate_pattern(pattern: str) -> str:
    """The pattern, or ValueError saying why a rule may not use it."""
    try:
        re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    if problem := backtracking_hazard(pattern):
        raise ValueError(f"regular expression {pattern!r} can take exponential time ({problem}); "
                         "rewrite it without nesting quantifiers or alternations under a quantifier")
    return pattern


def _re2_options():
    if re2 is None:
        return None
    options = re2.Options()
    options.log_errors = False  # a pattern RE2 cannot express is expected, not an error to print
    return options


_RE2_OPTIONS = _re2_options()


@lru_cache(maxsize=2048)
def _compile(pattern: str):
    if re2 is None:
        return re.compile(validate_pattern(pattern), re.MULTILINE)
    try:
        return re2.compile("(?m)" + pattern, _RE2_OPTIONS)
    except re2.error:
        return re.compile(pattern, re.MULTILINE)  # look-arounds or back-references; validated as safe above


def search(pattern: str, text: str):
    """Multiline search on the linear-time engine when it can express the pattern. Returns a match or None."""
    return _compile(pattern).search(text)
