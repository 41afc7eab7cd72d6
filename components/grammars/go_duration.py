"""Go time.ParseDuration re-implementation (src/time/format.go, Go 1.2x; unchanged for years).

Grammar: [-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+  -- but units are exactly ns, us, µs (U+00B5),
μs (U+03BC), ms, s, m, h; special case "0" (optionally signed) needs no unit.
Range: |d| <= 2**63-1 ns (~2562047h47m16.854775807s); "-" allows exactly -2**63 ns.
Whitespace is never allowed; units are case-sensitive ("1H" is an error).
"""
from __future__ import annotations

UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6,
         "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_MAX = 1 << 63


class DurationError(ValueError):
    pass


def parse_duration(s: str) -> int:
    """Return nanoseconds, or raise DurationError exactly where Go returns an error."""
    orig, d, neg = s, 0, False
    bad = DurationError(f'time: invalid duration "{orig}"')
    if s and s[0] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if s == "":
        raise bad
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise bad
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        pre = i > 0
        v = int(s[:i]) if pre else 0
        if v > _MAX:                  # leadingInt overflow
            raise bad
        s = s[i:]
        f, scale, post = 0, 1.0, False
        if s and s[0] == ".":
            s = s[1:]
            j, overflow = 0, False
            while j < len(s) and "0" <= s[j] <= "9":
                if not overflow:
                    y = f * 10 + int(s[j])
                    if f > (_MAX - 1) // 10 or y > _MAX:
                        overflow = True
                    else:
                        f, scale = y, scale * 10
                j += 1
            post = j > 0
            s = s[j:]
        if not pre and not post:
            raise bad
        k = 0
        while k < len(s) and not (s[k] == "." or "0" <= s[k] <= "9"):
            k += 1
        if k == 0:
            raise DurationError(f'time: missing unit in duration "{orig}"')
        u, s = s[:k], s[k:]
        if u not in UNITS:
            raise DurationError(f'time: unknown unit "{u}" in duration "{orig}"')
        unit = UNITS[u]
        if v > _MAX // unit:
            raise bad
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > _MAX:
                raise bad
        d += v
        if d > _MAX:
            raise bad
    if neg:
        return -d
    if d > _MAX - 1:
        raise bad
    return d


def is_valid_duration(s: str) -> bool:
    try:
        parse_duration(s)
        return True
    except DurationError:
        return False
