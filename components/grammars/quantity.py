"""Kubernetes resource.Quantity parser (k8s.io/apimachinery v0.36.3 pkg/api/resource/quantity.go).

ParseQuantity is a hand-written scanner (parseQuantityString), not the regex quoted in its
error message. Emulated exactly, including its lenient corners ("+", "-", ".", "1.", ".5",
"1.G" all parse). JSON/YAML input goes through UnmarshalJSON: surrounding quotes removed,
then strings.TrimSpace, so " 10Gi " is accepted from a manifest but not by ParseQuantity.
Values are exact Fractions: sign * number * base**exp, then rounded *up* (away from zero)
to 1e-9 when not representable, BinarySI capped at 2**63-1.
"""
from __future__ import annotations

from fractions import Fraction

DEC = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
BIN = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_DIG = set("0123456789")


class QuantityError(ValueError):
    pass


ERR_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def _scan(s: str):
    """parseQuantityString -> (positive, value, num, denom, suffix)."""
    positive, pos, end = True, 0, len(s)
    if pos < end and s[0] in "+-":
        positive = s[0] != "-"
        pos += 1
    i = pos
    while True:                                   # strip leading zeros
        if i >= end:
            return positive, "0", "0", "", ""
        if s[i] == "0":
            pos += 1
            i += 1
        else:
            break
    i = pos
    while True:                                   # numerator
        if i >= end:
            return positive, s, s[pos:end], "", ""
        if s[i] not in _DIG:
            num, pos = s[pos:i], i
            break
        i += 1
    if num == "":
        num = "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        i = pos
        while True:
            if i >= end:
                return positive, s, num, s[pos:end], ""
            if s[i] not in _DIG:
                denom, pos = s[pos:i], i
                break
            i += 1
    value = s[:pos]
    start = pos
    i = pos
    while True:
        if i >= end:
            return positive, value, num, denom, s[start:end]
        if s[i] not in _SUFFIX_CHARS:
            pos = i
            break
        i += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    i = pos
    while True:
        if i >= end:
            return positive, value, num, denom, s[start:end]
        if s[i] not in _DIG:
            break
        i += 1
    raise QuantityError(ERR_FORMAT)


def _interpret(suf: str):
    if suf in DEC:
        return 10, DEC[suf], "DecimalSI"
    if suf in BIN:
        return 2, BIN[suf], "BinarySI"
    if len(suf) > 1 and suf[0] in "eE":
        body = suf[1:]
        b = body[1:] if body[:1] in "+-" else body
        if b and set(b) <= _DIG and -(2**63) <= int(body) <= 2**63 - 1:   # strconv.ParseInt
            e = int(body)
            e = (e + 2**31) % 2**32 - 2**31                               # int32(parsed) wraps
            return 10, e, "DecimalExponent"
    raise QuantityError("unable to parse quantity's suffix")


def _inf_dec(value: str) -> Fraction:
    """gopkg.in/inf.v0 Dec.SetString on `value` (sign, digits, one '.', needs a digit)."""
    body = value[1:] if value[:1] in "+-" else value
    if not any(c in _DIG for c in body):
        raise QuantityError("unable to parse numeric part of quantity")
    neg = value[:1] == "-"
    ip, _, fp = body.partition(".")
    f = Fraction(int((ip + fp) or "0"), 10 ** len(fp))
    return -f if neg else f


def parse_quantity(s: str) -> Fraction:
    """resource.ParseQuantity(s) -> exact value (after k8s rounding/capping) or QuantityError."""
    if s == "":
        raise QuantityError(ERR_FORMAT)
    if s == "0":
        return Fraction(0)
    positive, value, num, denom, suf = _scan(s)
    base, exp, fmt = _interpret(suf)
    # Both the int64 fast path and the inf.Dec slow path yield the same mathematical value
    # (the slow path rounds up to nano and caps BinarySI), *except* that the slow path needs a
    # digit in `value`; reproduce which path runs to get errors right.
    precision = 0
    scale = 0
    if fmt in ("DecimalExponent", "DecimalSI"):
        scale = exp
        precision = 18 - (len(num) + len(denom))
    else:
        precision = (15 - len(num) - int(exp * 3 / 10) - 1) if (exp >= 0 and not denom) else -1
    if precision >= 0:
        scale -= len(denom)
        if scale >= -9:
            shifted = int(num + denom)
            if shifted <= 2**63 - 1:
                mant = (1 << exp) if fmt == "BinarySI" else 1
                r = shifted * mant
                if r <= 2**63 - 1:
                    r = r if positive else -r
                    return Fraction(r) * (Fraction(10) ** scale)
    amount = _inf_dec(value)
    amount *= Fraction(base) ** exp
    sign = -1 if amount < 0 else 1
    a = abs(amount)
    if a != 0:
        nano = a * 10**9
        a = Fraction(-(-nano.numerator // nano.denominator), 10**9)   # RoundUp to 1e-9
    if fmt == "BinarySI" and a > 2**63 - 1:
        a = Fraction(2**63 - 1)
    return sign * a


def parse_manifest_quantity(raw) -> Fraction:
    """As UnmarshalJSON does for a YAML/JSON value (string or number) -> TrimSpace first."""
    if isinstance(raw, bool) or raw is None:
        raise QuantityError("not a quantity")
    s = raw if isinstance(raw, str) else repr(raw)   # a YAML number reaches Go as its JSON text
    return parse_quantity(s.strip(" \t\n\v\f\r\x85\xa0"))


def validate_pvc_storage(raw) -> list[str]:
    """PVC spec.resources.requests.storage: required, parseable, > 0
    (kubernetes pkg/apis/core/validation ValidatePositiveQuantityValue, 'must be greater than zero')."""
    try:
        q = parse_manifest_quantity(raw)
    except QuantityError as e:
        return [str(e)]
    return [] if q > 0 else ["must be greater than zero"]
