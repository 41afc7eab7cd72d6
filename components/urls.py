"""URL rules shared by the config models and the versions table.

Every URL the program passes on (to Argo CD, Tekton, Flux, Helm, the Kubernetes provider) is checked
here first, so a value that would leak a credential, reach a local file, smuggle an option into ssh or
silently point somewhere else is a config error, not a surprise on the cluster.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

# A DNS name or IPv4 address as a URL host: ASCII letters, digits, '-' and '.', labels not starting or
# ending with '-'. Internationalised names must be given in punycode (xn--...), which git, Helm and the
# Go HTTP clients all need anyway.
HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
SCP_LIKE = re.compile(r"(?P<user>[A-Za-z0-9_.-]+)@(?P<host>[^:/\s]+):(?P<path>[^/\s][^\s]*)")


def check_host(host: str, what: str) -> None:
    if not host:
        raise ValueError(f"{what} has no host")
    if not host.isascii():
        raise ValueError(f"{what} has a non-ASCII host {host!r}: write it in punycode (xn--...)")
    if host.startswith("-"):
        raise ValueError(f"{what} has a host starting with '-' ({host!r}), which git and ssh would read as an option")
    if host.startswith("["):  # an IPv6 literal
        if not re.fullmatch(r"\[[0-9A-Fa-f:.]+\]", host):
            raise ValueError(f"{what} has a malformed IPv6 host {host!r}")
        return
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{what} has an invalid host {host!r}")


def redact(value: str) -> str:
    """`value` with any user:password@ of a URL replaced by ***@, so an error message never shows it."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1***@", value)


def check_url(value: object, what: str = "", schemes: tuple[str, ...] = ("https",), path: bool = False) -> str:
    """`value` if it is a clean absolute URL with one of `schemes`: no credentials, a valid ASCII host,
    a port in range, no query or fragment, no '.'/'..' segments, no whitespace or control characters.
    `path`: a non-root path is required (a repository, not a host). Errors name the URL (credentials
    masked) followed by `what`."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    what = repr(redact(value)) + (f" {what}" if what else "")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"{what} contains whitespace or control characters")
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = [s + "://" for s in schemes]
        listed = allowed[0] if len(allowed) == 1 else ", ".join(allowed[:-1]) + " or " + allowed[-1]
        raise ValueError(f"{what} must be a URL starting with {listed} (got "
                         f"{parts.scheme + '://' if parts.scheme else 'no scheme'})")
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and parts.scheme == "ssh" and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", userinfo):
        # ssh://git@host/org/repo.git: a user name and no password is how ssh URLs are written (git's
        # urls docs); ssh authenticates with the key, never with anything in the URL.
        parts = urlsplit(value.replace(userinfo + "@", "", 1))
    elif "@" in parts.netloc:
        raise ValueError(f"{what} has credentials in it (user:password@): set them as a Pulumi secret instead, "
                         "they would be shown in clear in every object and output that carries the URL")
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    check_host(host, what)
    port = parts.netloc.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in parts.netloc.rsplit("]", 1)[-1] else ""
    if port and (not port.isdigit() or not 1 <= int(port) <= 65535):
        raise ValueError(f"{what} has a port out of range (1-65535)")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError(f"{what} has a query or fragment, which would change what is fetched")
    if any(seg in (".", "..") for seg in parts.path.split("/")):
        raise ValueError(f"{what} has '.' or '..' path segments")
    if path and parts.path in ("", "/"):
        raise ValueError(f"{what} names no repository path")
    return value


def check_repo_url(value: object) -> str:
    """A git repository: https://, ssh:// or scp-like user@host:path (http:// only for in-cluster or
    local servers, and never with a token: see the config cross-checks)."""
    if isinstance(value, str) and "://" not in value:
        what = repr(value)
        match = SCP_LIKE.fullmatch(value)
        if not match:
            raise ValueError(f"{what} is not an https://, ssh:// or git@host:path URL")
        check_host(match["host"], what)
        if any(seg in (".", "..") for seg in match["path"].split("/")):
            raise ValueError(f"{what} has '.' or '..' path segments")
        return value
    return check_url(value, "", ("https", "http", "ssh"), path=True)
