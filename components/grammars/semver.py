"""Offline re-implementation of Masterminds/semver/v3 ``NewConstraint`` acceptance.

Answers only "would semver.NewConstraint(s) return an error?" -- the check Flux
image-reflector-controller v1.2.0 performs on ImagePolicy ``spec.policy.semver.range``
(internal/policy/semver.go:35).

Source emulated: Masterminds/semver constraints.go + version.go. The regexes and the
algorithm are identical in v3.4.0 and master@71f2b39 (2026-04-10); Flux v1.2.0 pins
v3.5.0, whose source was not in the store (see grammars.md, caveat).

Go -> Python translation notes
  * Go ``\\s`` is ASCII ``[\\t\\n\\f\\r ]`` (no \\v, no Unicode spaces) -> spelled out.
  * Go ``$`` (no (?m)) matches only at end of text; Python ``$`` also matches before a
    trailing "\\n" -> use ``\\Z``.
  * Go regexp (non-POSIX) picks the same leftmost-first submatches a backtracking
    engine picks, so Python ``re`` gives identical FindAllString/FindStringSubmatch
    results for these backreference-free patterns.
"""
from __future__ import annotations

import re

_S = r"[\t\n\f\r ]"  # Go's \s

# constraints.go:180-182  (note: the class [0-9|x|X|\*] really contains '|')
_CV = (r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
       r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
       r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
# constraints.go:200 (note the empty alternative between "=" and "!=")
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"

_CONSTRAINT_RE = re.compile(rf"^{_S}*({_OPS}){_S}*({_CV}){_S}*\Z")                 # :202
_RANGE_RE = re.compile(rf"{_S}*({_CV}){_S}+-{_S}+({_CV}){_S}*")                       # :207
_FIND_RE = re.compile(rf"({_OPS}){_S}*({_CV})")                                        # :211
_VALID_RE = re.compile(                                                                # :219
    rf"^({_S}*({_OPS}){_S}*({_CV}){_S}*)((?:{_S}+|,{_S}*)({_OPS}){_S}*({_CV}){_S}*)*\Z")

# version.go:63-65 looseSemVerRegex, anchored ^...$ (version.go:77)
_LOOSE_RE = re.compile(r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
                       r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
                       r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?\Z")
_NUM = set("0123456789")
_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
_U64 = 2**64 - 1


class ConstraintError(ValueError):
    pass


def _parse_uint64(s: str) -> None:
    # strconv.ParseUint(s, 10, 64): digits only here (regex guaranteed), range check.
    if int(s) > _U64:
        raise ConstraintError(f"value out of range: {s}")


def _validate_prerelease(p: str) -> None:  # version.go validatePrerelease
    for part in p.split("."):
        if part == "":
            raise ConstraintError("invalid prerelease string")
        if set(part) <= _NUM:
            if len(part) > 1 and part[0] == "0":
                raise ConstraintError("version segment starts with 0")
        elif not set(part) <= _ALLOWED:
            raise ConstraintError("invalid prerelease string")


def _validate_metadata(m: str) -> None:  # version.go validateMetadata
    for part in m.split("."):
        if part == "" or not set(part) <= _ALLOWED:
            raise ConstraintError("invalid metadata string")


def new_version(v: str) -> None:
    """semver.NewVersion with the default CoerceNewVersion=true (coerceNewVersion)."""
    m = _LOOSE_RE.match(v)
    if m is None:
        raise ConstraintError(f"invalid semantic version: {v!r}")
    _parse_uint64(m.group(1))
    if m.group(2):
        _parse_uint64(m.group(2)[1:])
    if m.group(3):
        _parse_uint64(m.group(3)[1:])
    if m.group(5):
        _validate_prerelease(m.group(5))
    if m.group(8):
        _validate_metadata(m.group(8))


def _is_x(s: str | None) -> bool:
    return s in ("x", "*", "X")


def _parse_constraint(c: str) -> None:  # constraints.go:257 parseConstraint
    if not c:
        return  # unreachable from NewConstraint (cv needs >=1 char)
    m = _CONSTRAINT_RE.match(c)
    if m is None:
        raise ConstraintError(f"improper constraint: {c!r}")
    g = [m.group(0)] + [x if x is not None else "" for x in m.groups()]
    ver = g[2]
    pre = g[6]  # includes the leading '-'
    if _is_x(g[3]) or g[3] == "":
        ver = f"0.0.0{pre}"
    elif _is_x(g[4][1:] if g[4].startswith(".") else g[4]) or g[4] == "":
        ver = f"{g[3]}.0.0{pre}"
    elif _is_x(g[5][1:] if g[5].startswith(".") else g[5]) or g[5] == "":
        ver = f"{g[3]}{g[4]}.0{pre}"
    try:
        new_version(ver)
    except ConstraintError as e:
        raise ConstraintError("constraint parser error") from e


def _rewrite_range(i: str) -> str:  # constraints.go:589
    o = i
    for m in _RANGE_RE.finditer(i):
        t = f">= {m.group(1)}, <= {m.group(11)} "
        o = o.replace(m.group(0), t, 1)
    return o


def check_constraint(c: str) -> None:
    """Raise ConstraintError iff Masterminds semver.NewConstraint(c) returns an error."""
    c = _rewrite_range(c)
    for v in c.split("||"):
        if not _VALID_RE.match(v):
            raise ConstraintError(f"improper constraint: {v!r}")
        cs = [m.group(0) for m in _FIND_RE.finditer(v)] or [v]
        for s in cs:
            _parse_constraint(s)


def is_valid_constraint(c: str) -> bool:
    try:
        check_constraint(c)
        return True
    except ConstraintError:
        return False
