"""`gitops-platform:apps[]`: each app, how Flux picks its tags, its canary and how it is built."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import (
    DNS1123_LABEL,
    Model,
    PlatformConfigErrors,
    check_duration,
    check_repo_path,
    check_repo_url,
    dns_label,
    duration_seconds,
)
from components.grammars import reference, semver
from components.urls import check_host


class ImagePolicy(Model):
    """How Flux picks the newest tag: a semver range, or a regex pattern with an ordering. Both are checked
    the way image-reflector-controller parses them: the range with Masterminds/semver v3's constraint
    grammar, the pattern as a Go (RE2) regexp (fluxcd/image-reflector-controller internal/policy)."""

    semver: str | None = None
    pattern: str | None = None
    extract: str | None = None
    order: Literal["alphabetical", "numerical"] = "numerical"
    direction: Literal["asc", "desc"] = "asc"

    @field_validator("semver")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                semver.check_constraint(value)
            except semver.ConstraintError as err:
                raise ValueError(f"{value!r} is not a version range Flux accepts (Masterminds/semver v3: e.g. "
                                 f"'>=1.0.0 <2.0.0', '^1.2', '~1.2.3', '1.x'): {err}") from None
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            from components.grammars import go_regexp
            try:
                go_regexp.compile_go(value)
            except go_regexp.GoRegexpError as err:
                raise ValueError(f"{value!r} is not a Go (RE2) regular expression, which is what Flux compiles "
                                 f"(no lookarounds or backreferences): {err}") from None
        return value

    @model_validator(mode="after")
    def _one_policy(self):
        if bool(self.semver) == bool(self.pattern):
            raise ValueError("set exactly one of semver or pattern")
        if self.extract and not self.pattern:
            raise PlatformConfigErrors([("extract", "only applies with pattern")])
        if self.pattern and self.extract:
            from components.grammars import go_regexp
            # Go's Regexp.Expand turns an unknown $name into "": every tag would sort as "".
            problems = go_regexp.check_extract(self.pattern, self.extract)
            if problems:
                raise PlatformConfigErrors([("extract", f"{self.extract!r}: {'; '.join(problems)}")])
        return self


# What Flagger substitutes in a MetricTemplate query (flagger pkg/apis/flagger/v1beta1/metric.go).
TEMPLATE_VARIABLES = {"name": "web", "namespace": "shop", "target": "web", "service": "web", "ingress": "web",
                      "route": "web", "interval": "1m"}
TEMPLATE = re.compile(r"\{\{\s*([a-z]+)\s*\}\}")


class ThresholdRange(Model):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self):
        if self.min is None and self.max is None:
            raise ValueError("set min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PlatformConfigErrors([("min", f"{self.min} is above max {self.max}")])
        return self


class CanaryMetric(Model):
    """An app's own analysis check: a PromQL query (Flagger fills in {{ namespace }}, {{ target }},
    {{ interval }}...) and the range its value must stay in; rendered as a MetricTemplate."""

    name: str
    query: str
    threshold_range: ThresholdRange
    interval: str = "1m"

    _name = field_validator("name")(classmethod(lambda cls, v: dns_label("metric name")(v)))
    _interval = field_validator("interval")(classmethod(lambda cls, v: check_duration(v)))

    @field_validator("query")
    @classmethod
    def _promql(cls, value: str) -> str:
        unknown = sorted(set(TEMPLATE.findall(value)) - set(TEMPLATE_VARIABLES))
        if unknown or "{{" in TEMPLATE.sub("", value):
            raise ValueError(f"uses template variables Flagger does not fill in ({', '.join(unknown) or 'malformed'}); "
                             f"available: {', '.join('{{ ' + v + ' }}' for v in TEMPLATE_VARIABLES)}")
        if not value.strip():
            raise ValueError("is empty")
        # Parsed here with stand-in names; the cross-checks parse it again with the app's own (query_problem).
        return value


class Canary(Model):
    """A Flagger canary for the app's Deployment (analysis defaults as in the seed)."""

    enabled: bool = True
    port: int = Field(8080, ge=1, le=65535)
    target_port: int | None = Field(None, ge=1, le=65535)
    interval: str = "30s"
    threshold: int = Field(5, ge=1, le=100)
    max_weight: int = Field(50, ge=1)
    step_weight: int = Field(10, ge=1)
    success_rate: float = Field(99, ge=0, le=100)
    max_duration_ms: int = Field(500, ge=1)
    load_test: bool = True
    progress_deadline_seconds: int = Field(600, ge=60)
    deployment: str | None = None  # Deployment name; default: the app name
    ingress: str | None = None     # Ingress (nginx, skipper) or ApisixRoute (apisix) the provider routes through
    gateway: str | None = None     # Gateway API Gateway, "name" or "namespace/name"; default: the platform's
    host: str | None = None        # the hostname the canary is served on; default: <app>.<gateway.domain>
    metrics: list[CanaryMetric] = Field(default_factory=list)   # the app's own checks, besides the built-ins
    builtin_metrics: bool = True   # Flagger's request-success-rate and request-duration (need the app's histogram)
    autoscaler: bool = False       # the app has a HorizontalPodAutoscaler named like its Deployment
    wait_timeout: str | None = None  # how long gitops-ci waits for the canary; default: from the analysis

    _host = field_validator("host")(classmethod(lambda cls, v: v if v is None else _hostname(v)))
    _wait = field_validator("wait_timeout")(classmethod(lambda cls, v: v if v is None else check_duration(v)))

    _interval = field_validator("interval")(classmethod(lambda cls, v: check_duration(v)))
    _deployment = field_validator("deployment")(
        classmethod(lambda cls, v: v if v is None else dns_label("Deployment name")(v)))
    _ingress = field_validator("ingress")(
        classmethod(lambda cls, v: v if v is None else dns_label("Ingress name")(v)))

    @field_validator("interval")
    @classmethod
    def _flagger_interval(cls, value: str) -> str:
        # Flagger's CRD only takes whole seconds or minutes (pattern ^[0-9]+(m|s)).
        if not re.fullmatch(r"([0-9]+m)?([0-9]+s)?", value):
            raise ValueError(f"{value!r} is not a Flagger analysis interval (whole seconds or minutes: 30s, 1m, 1m30s)")
        return value

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, value: str | None) -> str | None:
        if value is not None:
            parts = value.split("/")
            if len(parts) > 2 or not all(DNS1123_LABEL.fullmatch(p) and len(p) <= 63 for p in parts):
                raise ValueError(f"{value!r} is not a Gateway reference like 'gateway' or 'infra/gateway'")
        return value

    @model_validator(mode="after")
    def _weights(self):
        names = [m.name for m in self.metrics]
        if len(names) != len(set(names)) or {"request-success-rate", "request-duration"} & set(names):
            raise PlatformConfigErrors([("metrics", "metric names must be unique and not Flagger's built-in "
                                         "request-success-rate or request-duration")])
        if not self.metrics and not self.builtin_metrics:
            raise PlatformConfigErrors([("builtinMetrics", "is false and no metrics are set: the analysis would "
                                         "check nothing")])
        if self.max_weight > 100:
            raise PlatformConfigErrors([("maxWeight", f"{self.max_weight} is over 100 (it is a percentage of traffic)")])
        if self.step_weight > self.max_weight:
            raise PlatformConfigErrors([("stepWeight", f"{self.step_weight} is larger than maxWeight {self.max_weight}")])
        return self


def metric_template_name(app: App, metric_name: str) -> str:
    """The MetricTemplate of an app's check: <app>-<metric>, cut to a 63-character name."""
    return f"{app.name}-{metric_name}"[:63].rstrip("-")


def template_values(app: App, namespace: str, interval: str, apisix: bool = False) -> dict[str, str]:
    """What Flagger fills into an app's MetricTemplate query: the Canary's name and namespace, its target
    Deployment, the Service (the target's name: the platform sets no service.name), the Ingress (or the
    target), the route (the ApisixRoute with the apisix provider, else the target) and the metric's interval
    (fluxcd/flagger@v1.44.0:pkg/controller/scheduler_metrics.go toMetricModel)."""
    target = app.canary.deployment or app.name
    return {"name": app.name, "namespace": namespace, "target": target, "service": target,
            "ingress": app.canary.ingress or target, "route": (app.canary.ingress if apisix else None) or target, "interval": interval}


def query_problem(query: str, values: dict[str, str]) -> str | None:
    """Why `query` is not PromQL once Flagger fills in `values`, or None. Whitespace, newlines included,
    is PromQL's own, so a query may be written over several lines as Flagger's docs write them."""
    import promql_parser
    rendered = TEMPLATE.sub(lambda m: values[m.group(1)], query)
    try:
        promql_parser.parse(rendered)
    except ValueError as err:
        return f"is not PromQL once Flagger fills in this app's values ({rendered.strip()[:200]!r}): {err}"
    return None


def canary_wait_seconds(canary: Canary) -> int:
    """How long gitops-ci waits for a canary: `waitTimeout`, else what the analysis can take at most:
    Flagger's detection and initialisation (two intervals), one interval per weight step or iteration,
    `threshold` more failed checks before a rollback, and the progress deadline of the rollout."""
    if canary.wait_timeout:
        return duration_seconds(canary.wait_timeout)
    steps = -(-canary.max_weight // canary.step_weight)
    return duration_seconds(canary.interval) * (steps + canary.threshold + 2) + canary.progress_deadline_seconds


def _hostname(value: str) -> str:
    from components.config.gateway import DOMAIN
    if len(value) > 253 or not DOMAIN.fullmatch(value) or max(len(label) for label in value.split(".")) > 63:
        raise ValueError(f"{value!r} is not a hostname like web.apps.example.com (DNS: labels of at most 63 "
                         "characters, 253 in all)")
    return value


def glob_regex(glob: str) -> str | None:
    """The RE2 regexp (for the trigger's CEL `matches`) of a path glob, anchored at both ends."""
    if not re.fullmatch(r"[A-Za-z0-9_./*?@+=-]+", glob) or "***" in glob:
        return None
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out += "(.*/)?"
            i += 3
        elif glob.startswith("**", i):
            out += ".*"
            i += 2
        elif glob[i] == "*":
            out += "[^/]*"
            i += 1
        elif glob[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(glob[i])
            i += 1
    return "^" + out + "$"


def check_glob(glob: str) -> str:
    """A build path glob that can match a file: the trigger compares it with the paths Git reports
    (`dir/file`, never `./dir/file`, `dir/` or `dir//file`), so a glob in another form never matches."""
    check_repo_path(glob)
    if glob_regex(glob) is None:
        raise ValueError(f"{glob!r} is not a path glob (letters, digits, '/', '.', '_', '-', '*', '?')")
    if glob in (".", "./") or glob.startswith("./"):
        hint = "**" if glob in (".", "./") else glob.removeprefix("./")
        raise ValueError(f"{glob!r} never matches a file: Git reports paths without './' (write {hint!r})")
    if glob.endswith("/"):
        raise ValueError(f"{glob!r} never matches a file: a directory is matched by its files (write "
                         f"{glob + '**'!r})")
    if "//" in glob or "/./" in glob or glob.endswith("/."):
        fixed = re.sub(r"/(\./)+|//+", "/", glob).removesuffix("/.")
        raise ValueError(f"{glob!r} never matches a file: Git reports paths without empty or '.' parts (write "
                         f"{fixed!r})")
    return glob


class Build(Model):
    """How the app is built from its source repo; paths are relative to the repo root."""

    context: str = "."
    dockerfile: str = "Dockerfile"
    # Globs of the files whose change builds the app (`**` any depth, `*` within a directory, `?` one
    # character); empty: any change. Monorepos list each service's directory.
    paths: list[str] = Field(default_factory=list)

    _context = field_validator("context")(classmethod(lambda cls, v: check_repo_path(v)))
    _dockerfile = field_validator("dockerfile")(classmethod(lambda cls, v: check_repo_path(v)))

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        errors = []
        for i, glob in enumerate(value):
            try:
                check_glob(glob)
            except ValueError as err:
                errors.append((f"[{i}]", str(err)))
        if errors:
            raise PlatformConfigErrors(errors)
        return value


class App(Model):
    name: str
    namespace: str | None = None
    path: str | None = None
    image: str
    source_repo: str | None = None
    sync: Literal["auto", "manual"] | None = None
    image_policy: ImagePolicy | None = None
    canary: Canary | None = None
    build: Build = Build()

    _name = field_validator("name")(classmethod(lambda cls, v: dns_label("app name")(v)))
    _namespace = field_validator("namespace")(
        classmethod(lambda cls, v: v if v is None else dns_label("namespace name")(v)))
    _path = field_validator("path")(classmethod(lambda cls, v: v if v is None else check_repo_path(v)))
    _source = field_validator("source_repo")(classmethod(lambda cls, v: v if v is None else check_repo_url(v)))

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        # The app image is a repository; CI and Flux choose the tag, so a tag here is a mistake.
        # A repository name of the distribution/reference grammar (registry host[:port], IPv6 in brackets).
        if not re.fullmatch(reference.NAME, value, re.ASCII) or len(value) > 255:
            raise ValueError(f"{value!r} is not an image repository like quay.io/org/app (no tag or digest)")
        first = value.split("/", 1)[0]
        if "/" in value and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
            host, port = (first[:first.index("]") + 1], first[first.index("]") + 2:]) if first.startswith("[") \
                else first.partition(":")[::2]
            check_host(host, repr(value))
            if port and not 1 <= int(port) <= 65535:
                raise ValueError(f"{value!r} has a registry port out of range (1-65535)")
        return value

    @property
    def has_canary(self) -> bool:
        return self.canary is not None and self.canary.enabled
