"""What every config section shares: the strict base model, keyed errors and the value checks.

Strict means no silent coercion: YAML `on` or `true` is not a number, `2.0` is not an integer, `8080` is
not a string. Every string is refused when it holds a control character (a newline reaching a Helm value
or a shell script is how config becomes code), except the two fields that are multi-line by nature.
"""
from __future__ import annotations

import posixpath
import re
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, field_validator

from components.grammars.go_duration import DurationError, parse_duration
from components.urls import check_repo_url as _check_repo_url

PROJECT = "gitops-platform"
ENVIRONMENTS = ("dev", "staging", "prod")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Fields whose value is multi-line text (a test script, known_hosts lines): newlines and tabs allowed.
MULTILINE = frozenset({"test_script", "ssh_known_hosts", "query"})
# The largest script or host-key text a field may hold: the value lands in one Kubernetes object, and
# etcd stores objects of at most 1.5 MiB (its --max-request-bytes default); a script this size is a
# mistake long before that. Any other string is a name, path or URL: 4 KiB is far beyond any of those.
MAX_TEXT = 64 * 1024
MAX_LINE = 4096
# Tekton substitutes `$(params.x)`, `$(context.x)`, `$(workspaces.x.path)`, `$(tasks.x.results.y)`... in
# every string of a Task or Pipeline it runs, in several passes (tektoncd/pipeline@v1.15.0:
# pkg/reconciler/taskrun/resources/apply.go applies params, then contexts, workspaces and results to the
# text the first pass produced), and Triggers substitutes `$(body.x)`, `$(header.x)`, `$(extensions.x)`
# and `$(tt.params.x)` from the webhook event. A config value holding one would let the event or another
# param choose what it becomes, so `$(` is refused in every config string; the test script (a shell script,
# where `$(command)` is ordinary) only has Tekton's own variable roots refused.
TEKTON_VARIABLE = re.compile(r"\$\((params|context|tasks|workspaces|results|steps|step|credentials|tt|body|header|"
                             r"extensions|inputs|outputs|resources)\s*[.\[]")


class PlatformConfigErrors(ValueError):
    """Several cross-field problems at once, each with its own key (relative to the model raising it)."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{k}: {m}" for k, m in errors))
        self.errors = errors


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _is_mapping_of_strings(annotation: Any) -> bool:
    """dict[str, str] (or Optional of it): a field of labels or annotations, not a nested section."""
    if get_origin(annotation) is dict:
        return True
    return any(_is_mapping_of_strings(arg) for arg in get_args(annotation) if arg is not type(None)) \
        if get_origin(annotation) in (Union, UnionType) else False


def _control_characters(value: Any, multiline: bool, script: bool = False, mapping: bool = False) -> str | None:
    if isinstance(value, str):
        allowed = "\n\t" if multiline else ""
        bad = [ch for ch in value if (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0) and ch not in allowed]
        bad += [ch for ch in value if ch in "\u2028\u2029\ufeff"]
        if bad:
            return f"contains the control character {bad[0]!r}" + (
                " (only newlines and tabs may appear here)" if multiline else "")
        limit = MAX_TEXT if multiline else MAX_LINE
        if len(value.encode()) > limit:
            return f"is {len(value.encode())} bytes, over the {limit} this field may hold"
        if script:
            found = TEKTON_VARIABLE.search(value)
            if found:
                return (f"uses the Tekton variable {found.group(0)!r}...: Tekton would substitute it before the "
                        "shell runs (shell $(command) is fine; pass values through the environment instead)")
        elif "$(" in value:
            return ("contains '$(', which Tekton substitutes as a variable in every object it reaches (the "
                    "webhook event could choose the value); no config string may hold it")
        return None
    if isinstance(value, list):  # a list of strings; nested sections check their own fields
        return next((p for p in (_control_characters(v, multiline) for v in value if isinstance(v, str)) if p), None)
    if isinstance(value, dict) and mapping:  # a mapping of strings (labels, annotations): keys and values
        return next((p for p in (_control_characters(v, multiline) for item in value.items() for v in item
                                 if isinstance(v, str)) if p), None)
    return None


class Model(BaseModel):
    """Base for every config section: camelCase keys, unknown keys rejected, no coercion, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, alias_generator=camel,
                              str_strip_whitespace=False, strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any, info) -> Any:
        mapping = isinstance(value, dict) and _is_mapping_of_strings(cls.model_fields[info.field_name].annotation)
        problem = _control_characters(value, info.field_name in MULTILINE, info.field_name == "test_script", mapping)
        if problem:
            raise ValueError(problem)
        return value


# ---------------------------------------------------------------- value checks
def dns_label(kind: str):
    def check(value: str) -> str:
        if not isinstance(value, str) or len(value) > 63 or not DNS1123_LABEL.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid Kubernetes {kind} (DNS-1123 label: lower-case "
                             "letters, digits and '-', at most 63 characters, starting and ending "
                             "with a letter or digit)")
        return value
    return check


def dns_subdomain(kind: str):
    def check(value: str) -> str:
        if not isinstance(value, str) or len(value) > 253 or not all(
                DNS1123_LABEL.fullmatch(part) for part in value.split(".")):
            raise ValueError(f"{value!r} is not a valid {kind} (DNS-1123 subdomain: lower-case letters, digits, "
                             "'-' and '.', at most 253 characters)")
        return value
    return check


def check_duration(value: str, zero: bool = False) -> str:
    """A Go duration (time.ParseDuration, which Argo CD, Flux and Tekton use): 30s, 5m, 1h30m; positive
    (or zero, with `zero`)."""
    try:
        nanoseconds = parse_duration(value)
    except DurationError as err:
        raise ValueError(f"{value!r} is not a duration like 30s, 5m or 1h30m ({err})") from None
    if nanoseconds < 0 or nanoseconds == 0 and not zero:
        raise ValueError(f"{value!r} must be a positive duration" + (" or 0s" if zero else ""))
    return value


def duration_seconds(value: str) -> int:
    """Whole seconds of a duration (rounded up)."""
    return max(1, -(-parse_duration(value) // 10**9))


GIT_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_git_ref(value: str, what: str = "git branch name") -> str:
    """A branch name the pipelines can push to, by git check-ref-format's rules (and --branch's: not
    starting with '-', not HEAD)."""
    problem = None
    if not value:
        problem = "is empty"
    elif value == "HEAD" or value == "@":
        problem = f"is {value!r}, which is not a branch"
    elif value.startswith("-"):
        problem = "starts with '-' (git would read it as an option)"
    elif GIT_REF_FORBIDDEN.search(value):
        problem = "contains a space, control character or one of ~ ^ : ? * [ \\"
    elif ".." in value or "@{" in value or "//" in value:
        problem = "contains '..', '@{' or '//'"
    elif value.startswith("/") or value.endswith(("/", ".", ".lock")):
        problem = "starts with '/' or ends with '/', '.' or '.lock'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in value.split("/")):
        problem = "has a part starting with '.' or ending with '.lock'"
    if problem:
        raise ValueError(f"{value!r} is not a valid {what}: it {problem} (git check-ref-format)")
    return value


def check_repo_path(value: str) -> str:
    """A path inside a repo: relative, normalised, never escaping with `..`."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty path inside the repo")
    if value.startswith("/") or "\\" in value:
        raise ValueError(f"{value!r} must be a relative path inside the repo")
    norm = posixpath.normpath(value)
    if norm == ".." or norm.startswith("../") or ".." in value.split("/"):
        raise ValueError(f"{value!r} escapes the repo with '..'")
    if value.startswith("-"):
        raise ValueError(f"{value!r} starts with '-' (tools would read it as an option)")
    return norm


def check_repo_url(value: str) -> str:
    return _check_repo_url(value)


def repo_host(url: str) -> str:
    """The host of a repository URL (`github.com` for both https and git@ forms)."""
    from urllib.parse import urlsplit
    if "://" in url:
        return urlsplit(url).hostname or ""
    return url.split("@", 1)[-1].split(":", 1)[0]


def repo_is_ssh(url: str) -> bool:
    return url.startswith("ssh://") or ("://" not in url and "@" in url)


# Hosts a plain-HTTP URL may point at: inside the cluster (Service names), or this machine.
CLUSTER_LOCAL = re.compile(r"(.+\.svc(\.cluster\.local)?|localhost|127\.0\.0\.1|\[::1\])")


def is_cluster_local(host: str) -> bool:
    return bool(CLUSTER_LOCAL.fullmatch(host.split(":")[0] if not host.startswith("[") else host))
