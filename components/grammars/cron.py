"""Offline emulation of Argo CD v3.4.x SyncWindow validation (schedule/duration/timeZone).

Argo CD pkg/apis/application/v1alpha1/types.go (v3.4.7) SyncWindow.Validate():
  * timeZone: time.LoadLocation; on error only a *warning* and fallback to UTC (no error)
  * kind must be "allow" or "deny"
  * schedule: cron.NewParser(cron.Minute|cron.Hour|cron.Dom|cron.Month|cron.Dow).Parse
    (robfig/cron/v3 @ bc59245fe10e, parser.go) -- no Descriptor, no Seconds
  * duration: time.ParseDuration (see go_duration.py)
  * description <= 255 bytes (len() of a Go string = bytes)
"""
from __future__ import annotations

from components.grammars.go_duration import DurationError, parse_duration


class CronError(ValueError):
    pass


# Go unicode.IsSpace (used by strings.Fields): Latin-1 set + White_Space property.
_GO_SPACE = set("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)}


def go_fields(s: str) -> list[str]:
    out, cur = [], []
    for ch in s:
        if ch in _GO_SPACE:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def go_atoi(s: str) -> int:
    """strconv.Atoi (base 10, int64 on 64-bit): optional +/-, ASCII digits, no '_'."""
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or any(c not in "0123456789" for c in body):
        raise CronError(f'failed to parse int from {s}: strconv.Atoi: parsing "{s}": invalid syntax')
    v = int(s)
    if not -(2**63) <= v <= 2**63 - 1:
        raise CronError(f'failed to parse int from {s}: value out of range')
    return v


MONTHS = {n: i for i, n in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
DOWS = {n: i for i, n in enumerate("sun mon tue wed thu fri sat".split())}
# spec.go bounds
BOUNDS = {"minute": (0, 59, None), "hour": (0, 23, None), "dom": (1, 31, None),
          "month": (1, 12, MONTHS), "dow": (0, 6, DOWS)}


def _must_parse_int(expr: str) -> int:
    n = go_atoi(expr)
    if n < 0:
        raise CronError(f"negative number ({n}) not allowed: {expr}")
    return n


def _parse_int_or_name(expr: str, names) -> int:
    if names is not None and expr.lower() in names:   # strings.ToLower -> case-insensitive
        return names[expr.lower()]
    return _must_parse_int(expr)


def _get_range(expr: str, lo: int, hi: int, names) -> None:  # parser.go getRange
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    if low_high[0] in ("*", "?"):
        start, end = lo, hi          # NB: anything after "*-" is ignored ("*-5" is accepted)
    else:
        start = _parse_int_or_name(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _parse_int_or_name(low_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _must_parse_int(range_and_step[1])
        if single:
            end = hi                 # "N/step" means "N-max/step"
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")


def _get_field(field: str, kind: str) -> None:
    lo, hi, names = BOUNDS[kind]
    for expr in [p for p in field.split(",") if p != ""]:   # strings.FieldsFunc(',') drops empties
        _get_range(expr, lo, hi, names)


def load_location(name: str) -> None:
    """Approximation of Go time.LoadLocation using Python zoneinfo (same IANA db names).
    The answer depends on the tz database present (Argo image: Ubuntu tzdata package)."""
    if name in ("", "UTC", "Local"):
        return
    if ".." in name or name[0] in "/\\":
        raise CronError("time: invalid location name")
    import zoneinfo
    try:
        zoneinfo.ZoneInfo(name)
    except Exception as e:  # ZoneInfoNotFoundError / ValueError
        raise CronError(f"unknown time zone {name}") from e


def check_schedule(spec: str) -> None:
    """Raise CronError iff Argo CD's robfig parser rejects spec."""
    if len(spec) == 0:
        raise CronError("empty spec string")
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        i = spec.find(" ")
        if i < 0:
            # Go: spec[eq+1:-1] -> slice-bounds panic in the Argo process; treat as invalid
            raise CronError("TZ= prefix without a following space (panics in Go)")
        eq = spec.find("=")
        load_location(spec[eq + 1:i])
        spec = spec[i:].strip(" \t\n\v\f\r")  # strings.TrimSpace (ASCII part; close enough)
    if spec.startswith("@"):
        raise CronError(f"parser does not accept descriptors: {spec}")
    fields = go_fields(spec)
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    for f, kind in zip(fields, ("minute", "hour", "dom", "month", "dow"), strict=True):
        _get_field(f, kind)


def is_valid_schedule(spec: str) -> bool:
    try:
        check_schedule(spec)
        return True
    except CronError:
        return False


def validate_sync_window(w: dict) -> list[str]:
    """Errors Argo CD would return from SyncWindow.Validate (first one only in Argo)."""
    errs, warns = [], []
    tz = w.get("timeZone") or "UTC"
    try:
        load_location(tz)
    except CronError:
        warns.append(f"Invalid time zone {tz} specified. Using UTC as default time zone")
    if w.get("kind") not in ("allow", "deny"):
        errs.append(f"kind '{w.get('kind')}' mismatch: can only be allow or deny")
    try:
        check_schedule(w.get("schedule", ""))
    except CronError as e:
        errs.append(f"cannot parse schedule '{w.get('schedule', '')}': {e}")
    try:
        parse_duration(w.get("duration", ""))
    except DurationError as e:
        errs.append(f"cannot parse duration '{w.get('duration', '')}': {e}")
    if len(w.get("description", "").encode()) > 255:
        errs.append("description must not exceed 255 characters")
    return errs + [f"warning: {x}" for x in warns]
