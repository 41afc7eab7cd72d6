"""The container image reference grammar, as distribution/reference parses it.

Transcribed from distribution/reference@v0.6.0:regexp.go (the grammar docker, containerd, kind and
every registry client share):

    reference       := name [ ":" tag ] [ "@" digest ]
    name            := [domain '/'] remote-name
    domain          := host [':' port-number]
    host            := domain-name | IPv4address | \\[ IPv6address \\]
    domain-name     := domain-component ['.' domain-component]*
    domain-component:= /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    remote-name     := path-component ['/' path-component]*
    path-component  := alpha-numeric [separator alpha-numeric]*
    alpha-numeric   := /[a-z0-9]+/
    separator       := /[_.]|__|[-]+/
    tag             := /[\\w][\\w.-]{0,127}/
    digest          := algorithm ":" hex (at least 32 hex digits)

and its length rule (reference.go: NameTotalLengthMax = 255). A value that matches this grammar holds no
shell metacharacter at all (no space, quote, `$`, `;`, `|`, `&`, backtick, parenthesis), which is why the
kind command can take it; it is still passed as an environment variable, never spliced into the script.
"""
from __future__ import annotations

import re

ALPHANUMERIC = r"[a-z0-9]+"
SEPARATOR = r"(?:[._]|__|[-]+)"
DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
HOST = rf"(?:{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*|{IPV6})"
DOMAIN = rf"{HOST}(?::[0-9]+)?"
PATH_COMPONENT = rf"{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*"
REMOTE_NAME = rf"{PATH_COMPONENT}(?:/{PATH_COMPONENT})*"
NAME = rf"(?:{DOMAIN}/)?{REMOTE_NAME}"
TAG = r"[\w][\w.-]{0,127}"
DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
REFERENCE = re.compile(rf"(?P<name>{NAME})(?::(?P<tag>{TAG}))?(?:@(?P<digest>{DIGEST}))?", re.ASCII)
NAME_TOTAL_LENGTH_MAX = 255


class ReferenceError(ValueError):
    pass


def parse_reference(value: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference, or ReferenceError saying why it is not one."""
    if not isinstance(value, str) or not value:
        raise ReferenceError("is empty")
    match = REFERENCE.fullmatch(value)
    if not match:
        raise ReferenceError("is not an image reference name[:tag][@digest] (distribution/reference grammar: "
                             "lower-case path components, an optional registry host[:port], a tag of letters, "
                             "digits, '_', '.', '-')")
    if len(match["name"]) > NAME_TOTAL_LENGTH_MAX:
        raise ReferenceError(f"has a repository name over {NAME_TOTAL_LENGTH_MAX} characters")
    return match["name"], match["tag"], match["digest"]


def is_reference(value: str) -> bool:
    try:
        parse_reference(value)
    except ReferenceError:
        return False
    return True
