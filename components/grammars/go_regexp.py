"""Validate a Go (regexp/syntax, Perl flags) pattern offline, the way Flux
image-reflector-controller v1.2.0 does for ImagePolicy spec.filterTags.pattern
(internal/policy/filter.go:34 regexp.Compile), plus a checker for filterTags.extract
(Regexp.ExpandString template, filter.go:52).

Engine: google-re2 (PyPI ``google-re2``, module ``re2``; tested 1.1.20251105,
wheel cp311-manylinux_2_27/2_28_x86_64). RE2/C++ and Go share one grammar; this module
patches the differences found by testing (see grammars.md §2):
  * Go rejects ``\\C`` (any byte); RE2 accepts it outside a class.
  * Go capture names are ASCII ``[A-Za-z0-9_]+``; RE2 also accepts Unicode word names.
  * Go >= 1.25 accepts \\p{Letter}, \\p{ASCII}, \\p{Any}, \\p{Assigned}, \\p{LC}, \\p{Cn} and
    case/underscore-insensitive names (golang/go#70781); RE2 does not.
  * Go limits tree height to 1000; RE2 does not (deep nesting).
  * Old google-re2 builds lacked ``(?<name>``; we rewrite it to ``(?P<name>`` anyway.
  * RE2's default 8 MiB program budget rejects e.g. ``\\pL{1000}``, which Go accepts, so
    max_mem is raised.
"""
from __future__ import annotations

import re as _pyre

try:
    import re2  # google-re2
except ImportError:  # pragma: no cover
    re2 = None

_GO_ONLY_PROPS = {"Any", "Assigned", "Ascii", "Lc", "Cn"}
# unicode.CategoryAliases (Unicode PropertyValueAliases gc=...), canonicalised Go-style
_ALIASES = {
    "Other": "C", "Control": "Cc", "Format": "Cf", "Unassigned": "Cn", "Privateuse": "Co",
    "Surrogate": "Cs", "Letter": "L", "Casedletter": "LC", "Lowercaseletter": "Ll",
    "Modifierletter": "Lm", "Otherletter": "Lo", "Titlecaseletter": "Lt",
    "Uppercaseletter": "Lu", "Mark": "M", "Combiningmark": "M", "Spacingmark": "Mc",
    "Enclosingmark": "Me", "Nonspacingmark": "Mn", "Number": "N", "Decimalnumber": "Nd",
    "Letternumber": "Nl", "Othernumber": "No", "Punctuation": "P", "Connectorpunctuation": "Pc",
    "Dashpunctuation": "Pd", "Closepunctuation": "Pe", "Finalpunctuation": "Pf",
    "Initialpunctuation": "Pi", "Otherpunctuation": "Po", "Openpunctuation": "Ps",
    "Symbol": "S", "Currencysymbol": "Sc", "Modifiersymbol": "Sk", "Mathsymbol": "Sm",
    "Othersymbol": "So", "Separator": "Z", "Lineseparator": "Zl", "Paragraphseparator": "Zp",
    "Spaceseparator": "Zs", "Digit": "Nd", "Punct": "P", "Cntrl": "Cc",
}


class GoRegexpError(ValueError):
    pass


def _canonical(name: str) -> str:  # regexp/syntax canonicalName (Go >= 1.25)
    out, first = [], True
    for c in name:
        if c in "_- ":
            continue
        if first:
            out.append(c.upper() if "a" <= c <= "z" else c)
            first = False
        else:
            out.append(c.lower() if "A" <= c <= "Z" else c)
    return "".join(out)


def _re2_ok(p: str) -> bool:
    o = re2.Options()
    o.log_errors = False
    try:
        re2.compile(p, o)
        return True
    except re2.error:
        return False


def _prop(name: str) -> str:
    """Map a Go \\p{name} to something RE2 parses, or raise if Go would reject it."""
    neg = name.startswith("^")
    bare = name[1:] if neg else name
    if bare and _re2_ok(rf"\p{{{bare}}}"):
        return name
    c = _canonical(bare)
    if c in _GO_ONLY_PROPS or c in _ALIASES or (c and _re2_ok(rf"\p{{{c}}}")):
        return ("^" if neg else "") + "Any"      # syntax check only: any valid class will do
    raise GoRegexpError(f"invalid character class range: \\p{{{name}}}")


_NAME_OK = _pyre.compile(r"[A-Za-z0-9_]+\Z")


def _rewrite(p: str) -> tuple[str, list[str]]:
    """Scan like regexp/syntax, apply Go-only rejections, return (RE2 pattern, group names)."""
    out, names, i, n, depth, in_class, stack = [], [], 0, len(p), 0, False, []
    class_first = False
    while i < n:
        c = p[i]
        if c == "\\" and i + 1 < n:
            d = p[i + 1]
            if d == "Q" and not in_class:                    # \Q...\E literal run
                j = p.find(r"\E", i + 2)
                j = n if j < 0 else j
                out.append(p[i:j + 2])
                i = j + 2
                continue
            if d == "C":
                raise GoRegexpError(r"invalid escape sequence: \C")
            if d in "pP" and i + 2 < n:
                if p[i + 2] == "{":
                    j = p.find("}", i + 3)
                    if j < 0:
                        raise GoRegexpError("invalid character class range")
                    out.append(f"\\{d}{{{_prop(p[i + 3:j])}}}")
                    i = j + 1
                    continue
                out.append(f"\\{d}{_prop(p[i + 2])}")
                i += 3
                continue
            out.append(p[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "[" and p.startswith("[:", i):
                j = p.find(":]", i + 2)
                if j >= 0:
                    out.append(p[i:j + 2])
                    i = j + 2
                    continue
            if c == "]" and not class_first:
                in_class = False
            class_first = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class, class_first = True, True
            out.append(c)
            i += 1
            if i < n and p[i] == "^":
                out.append("^")
                i += 1
            continue
        if c == "(":
            capturing = not p.startswith("(?", i) or bool(_pyre.match(r"\(\?P?<[^=!]", p[i:]))
            stack.append(capturing)
            depth += capturing     # only OpCapture nodes add tree height; (?:) adds none
            if depth > 998:        # approximation of Go's maxHeight=1000 check
                raise GoRegexpError("expression nests too deeply")
            m = _pyre.match(r"\(\?P?<([^>]*)>", p[i:])
            if m and not p.startswith(("(?<=", "(?<!"), i):
                name = m.group(1)
                if not _NAME_OK.match(name):
                    raise GoRegexpError(f"invalid named capture: {m.group(0)}")
                names.append(name)
                out.append(f"(?P<{name}>")
                i += m.end()
                continue
        elif c == ")" and stack:
            depth -= stack.pop()
        out.append(c)
        i += 1
    return "".join(out), names


def compile_go(pattern: str):
    """Raise GoRegexpError where Go's regexp.Compile would fail; return an re2 object."""
    if re2 is None:
        raise RuntimeError("pip install google-re2")
    rp, _ = _rewrite(pattern)
    o = re2.Options()
    o.log_errors = False
    o.max_mem = 1 << 30
    try:
        return re2.compile(rp, o)
    except re2.error as e:
        detail = e.args[0] if e.args else str(e)
        raise GoRegexpError(detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)) from e


def check_extract(pattern: str, template: str) -> list[str]:
    """Warnings for a Flux filterTags.extract template (Go Regexp.Expand never errors:
    unknown names / out-of-range indices silently expand to "")."""
    rx = compile_go(pattern)
    ngroups = rx.groups
    _, names = _rewrite(pattern)
    warns, t = [], template
    if template and ngroups == 0:
        warns.append("pattern has no capture groups")
    while True:
        k = t.find("$")
        if k < 0:
            break
        t = t[k + 1:]
        if t.startswith("$"):
            t = t[1:]
            continue  # $$ -> literal $
        brace = t.startswith("{")
        s = t[1:] if brace else t
        j = 0
        while j < len(s) and (s[j].isalpha() or s[j].isdigit() or s[j] == "_"):
            j += 1                                                # unicode.IsLetter/IsDigit
        if j == 0 or (brace and (j >= len(s) or s[j] != "}")):
            warns.append("malformed '$' reference kept as literal '$'")
            continue
        name = s[:j]
        t = s[j + 1:] if brace else s[j:]
        num = int(name) if (name.isascii() and name.isdigit() and not
                            (name[0] == "0" and len(name) > 1) and len(name) <= 9) else -1
        if num >= 0:
            if num > ngroups:
                warns.append(f"${name}: no group {num} (expands to empty)")
        elif name not in names:
            warns.append(f"${name}: no group named {name!r} (expands to empty)")
    return warns
