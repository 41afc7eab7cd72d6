"""The gitops-platform guardrails as Pulumi CrossGuard policies (Python policy SDK, pulumi-policy 1.21.0).

Every policy is MANDATORY (set by the pack in `__main__.py`): `pulumi preview --policy-pack policy` fails
when one is violated. Each violation message names the resource (type token, Pulumi name and, for
Kubernetes objects, namespace/name), says what is wrong and how to fix it.

This module is self-contained on purpose: the policy pack runs in its own virtualenv, without the
platform program, so the few rules it shares with `components/versions.py` (what a pinned image or
release URL is) are restated here; `tests/test_policy.py` checks that both agree.

How a policy knows the environment (prod rules): see `environments_of`. How a policy knows that a value
is a Pulumi secret: see `install_secret_markers`.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml
from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PROJECT = "gitops-platform"
ENVIRONMENTS = ("dev", "staging", "prod")
PROD = "prod"
# The platform labels the objects it emits with the environment they belong to.
ENV_LABEL = "gitops-platform/environment"
# A CI bot ServiceAccount may keep its API token only when this annotation says why it needs one.
TOKEN_ANNOTATION = "gitops-platform/needs-api-token"
CI_BOT_ACCOUNTS = ("pipeline-bot",)

FLOATING_TAGS = frozenset({"latest", "stable", "main", "master", "edge", "nightly", "head", "dev"})
SHA256_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TAG_AT_DIGEST = re.compile(r"^[^@\s]+:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}@sha256:[0-9a-f]{64}$")
EXACT_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
TEKTON_PARAM = re.compile(r"^\$\(params(?:\.([A-Za-z0-9_.-]+)|\[['\"]([^'\"]+)['\"]\])\)$")

ARGO_KINDS = {"kubernetes:argoproj.io/v1alpha1:Application": "Application",
              "kubernetes:argoproj.io/v1alpha1:ApplicationSet": "ApplicationSet",
              "kubernetes:argoproj.io/v1alpha1:AppProject": "AppProject"}
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
ROLE_KINDS = ("Role", "ClusterRole")
# Helm value keys that carry credentials; their values must be Pulumi secrets, never plain strings.
SECRET_VALUE_KEYS = frozenset(k.lower() for k in (
    "password", "token", "apiKey", "secretKey", "clientSecret", "webhookSecret", "githubSecret",
    "gitlabSecret", "bitbucketServerSecret", "gogsSecret", "sshPrivateKey", "githubAppPrivateKey",
    "tlsClientCertKey", "argocdServerAdminPassword", "bearerToken", "privateKey"))


# ---------------------------------------------------------------- secret markers
def install_secret_markers() -> None:
    """Make Pulumi secrets visible to resource and stack validations.

    The engine sends every resource's properties to the pack with secrets kept (secret envelopes on the
    wire), but pulumi-policy's Python `Analyze`/`AnalyzeStack` unwrap them silently
    (`deserialize_properties(..., proxy_secrets=False)`), so a validation cannot tell a Pulumi secret
    from a plain string (pulumi/pulumi-policy#241). This replaces the SDK's deserializer, for
    validations only, with one that keeps each secret as a `pulumi_policy.Secret(value)` marker; the
    remediation path (`proxy_secrets=True`) is left to the SDK. Policies read values through `reveal`,
    which looks through the markers, and ask `secret_at` where it matters. It is idempotent and pinned to
    pulumi-policy 1.21.0 (policy/requirements.txt); tests drive the SDK's real Analyze with it.
    """
    import pulumi_policy.policy as sdk_policy
    from pulumi_policy import deserialize as sdk_deserialize

    if getattr(sdk_policy.deserialize_properties, "keeps_secret_markers", False):
        return
    original = sdk_policy.deserialize_properties

    def mark(prop: Any) -> Any:
        if isinstance(prop, list):
            return [mark(item) for item in prop]
        if isinstance(prop, dict):
            sig = prop.get(sdk_deserialize.SPECIAL_SIG_KEY)
            if sig == sdk_deserialize.SPECIAL_SECRET_SIG:
                return Secret(mark(prop.get("value")))
            if sig is not None:  # assets, archives: the SDK's own decoding
                return sdk_deserialize._deserialize_property(prop)
            return {key: mark(value) for key, value in prop.items()}
        return prop

    def deserialize_properties(props: dict[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
        if proxy_secrets:
            return original(props, proxy_secrets)
        return {key: mark(value) for key, value in props.items()}

    deserialize_properties.keeps_secret_markers = True  # type: ignore[attr-defined]
    sdk_policy.deserialize_properties = deserialize_properties


def reveal(value: Any) -> Any:
    """The value behind any secret markers."""
    while isinstance(value, Secret):
        value = value.value
    return value


def plain(value: Any) -> Any:
    """A deep copy as plain dicts/lists/scalars, secret markers removed (for parsing and messages)."""
    value = reveal(value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in entries(value)}
    if _is_list(value):
        return [plain(item) for _, item in entries(value)]
    return value


def secret_at(root: Any, *path: Any) -> bool:
    """True when the value at `path` under `root`, or any value enclosing it, is a Pulumi secret."""
    node = root
    for step in path:
        if isinstance(node, Secret):
            return True
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(node, Secret)


def get(root: Any, *path: Any, default: Any = None) -> Any:
    """The value at `path` (secret markers looked through), or `default` when it is absent or, during
    preview, not known yet (the analyzer runs again with known values at `pulumi up`)."""
    node = reveal(root)
    try:
        for step in path:
            if isinstance(node, Mapping) and step in node:
                node = reveal(node[step])
            elif _is_list(node) and isinstance(step, int) and -len(node) <= step < len(node):
                node = reveal(node[step])
            else:
                return default
    except UnknownValueError:
        return default
    return node


def entries(node: Any) -> Iterator[tuple[Any, Any]]:
    """(key, value) of a mapping or (index, item) of a list, skipping values not known during preview;
    values keep their secret markers."""
    if isinstance(node, Mapping):
        keys: Any = list(node)
    elif _is_list(node):
        keys = range(len(node))
    else:
        return
    for key in keys:
        try:
            yield key, node[key]
        except UnknownValueError:
            continue


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


# ---------------------------------------------------------------- naming and objects
def describe(resource_type: str, name: str, obj: Any = None, where: str = "") -> str:
    """`<type> "<pulumi name>" (<namespace>/<name>)`: how every message names its resource."""
    text = f'{resource_type} "{name}"'
    meta = get(obj, "metadata") if obj is not None else None
    if isinstance(meta, Mapping) and isinstance(reveal(meta.get("name")), str):
        kind = get(obj, "kind")
        namespace = reveal(meta.get("namespace"))
        ident = f"{namespace}/{reveal(meta['name'])}" if namespace else reveal(meta["name"])
        text += f" ({kind} {ident})" if where else f" ({ident})"
    if where:
        text += f" at {where}"
    return text


def kubernetes_objects(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, object) for every Kubernetes object a resource carries: the resource itself when it is a
    Kubernetes object, and the objects written inline into a yaml/v2 ConfigGroup (`objs`, `yaml`)."""
    if not resource_type.startswith("kubernetes:"):
        return
    if resource_type == "kubernetes:yaml/v2:ConfigGroup":
        for i, obj in entries(get(props, "objs") or []):
            if isinstance(reveal(obj), Mapping):
                yield f"objs[{i}]", reveal(obj)
        texts = get(props, "yaml")
        texts = [texts] if isinstance(texts, str) else (texts or [])
        for i, text in enumerate(texts):
            text = reveal(text)
            if not isinstance(text, str):
                continue
            try:
                documents = list(yaml.safe_load_all(text))
            except yaml.YAMLError:
                continue
            for j, doc in enumerate(documents):
                if isinstance(doc, Mapping):
                    yield f"yaml[{i}] document {j}", doc
        return
    if isinstance(get(props, "kind"), str) and isinstance(get(props, "apiVersion"), str):
        yield "", props


def kind_of(resource_type: str, obj: Any) -> str:
    kind = get(obj, "kind")
    return kind if isinstance(kind, str) else resource_type.rsplit(":", 1)[-1]


# ---------------------------------------------------------------- environment
def stack_environment() -> str | None:
    """The environment of the stack being previewed, as the program derives it (`components/config.py`):
    `gitops-platform:environment` from the stack config, else the stack name when it is an environment.
    The Pulumi CLI hands both to the policy pack process (PULUMI_CONFIG, PULUMI_STACK)."""
    try:
        config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    except ValueError:
        config = {}
    configured = config.get(f"{PROJECT}:environment") if isinstance(config, dict) else None
    if isinstance(configured, str) and configured:
        return configured
    stack = (os.environ.get("PULUMI_STACK") or "").rsplit("/", 1)[-1]
    return stack if stack in ENVIRONMENTS else None


def environments_of(args: Any, obj: Any) -> set[str]:
    """Every environment an object is said to belong to, from three independent sources:

    1. its `gitops-platform/environment` label (the platform sets it on what it emits);
    2. the policy's `environment` config (`--policy-pack-config`), for stacks the CLI cannot name;
    3. the stack's own environment (`stack_environment`).

    The prod rules apply when any source says prod, so a missing or wrong label cannot switch them off.
    """
    found: set[str] = set()
    label = get(obj, "metadata", "labels", ENV_LABEL)
    if isinstance(label, str) and label:
        found.add(label)
    configured = (args.get_config() or {}).get("environment") if args is not None else None
    if isinstance(configured, str) and configured:
        found.add(configured)
    stack_env = stack_environment()
    if stack_env:
        found.add(stack_env)
    return found


ENVIRONMENT_SCHEMA = PolicyConfigSchema(properties={"environment": {
    "type": "string", "enum": list(ENVIRONMENTS),
    "description": "The environment of the stack, when neither labels nor the stack config say it"}})


# ---------------------------------------------------------------- 1. prod sync safety
def _automated(sync_policy: Any) -> bool:
    automated = get(sync_policy, "automated")
    if automated is None:
        return False
    # Argo CD 3.x: `automated: {enabled: false}` keeps the block but turns automated sync off.
    return not (isinstance(automated, Mapping) and get(automated, "enabled") is False)


def validate_prod_manual_sync(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """prod Applications (and ApplicationSet templates) never sync automatically."""
    kind = ARGO_KINDS.get(args.resource_type)
    if kind not in ("Application", "ApplicationSet") or PROD not in environments_of(args, args.props):
        return
    subject = describe(args.resource_type, args.name, args.props)
    if kind == "Application" and _automated(get(args.props, "spec", "syncPolicy")):
        report_violation(
            f"{subject}: prod Applications must sync manually, but spec.syncPolicy.automated is set. "
            "Fix: remove spec.syncPolicy.automated (apps[].sync: manual, the prod default) and sync "
            "after review with `argocd app sync`.", None)
    if kind == "ApplicationSet" and _automated(get(args.props, "spec", "template", "spec", "syncPolicy")):
        report_violation(
            f"{subject}: prod Applications must sync manually, but the ApplicationSet template sets "
            "spec.template.spec.syncPolicy.automated. Fix: remove it from the template so generated "
            "Applications sync only on request.", None)


def _window_problem(window: Any) -> str | None:
    window = reveal(window)
    if not isinstance(window, Mapping):
        return "is not a sync window"
    missing = [key for key in ("kind", "schedule", "duration") if not get(window, key)]
    if missing:
        return f"has no {', '.join(missing)}"
    if not any(get(window, key) for key in ("applications", "namespaces", "clusters")):
        return "selects no applications, namespaces or clusters, so Argo CD applies it to nothing"
    return None


def validate_prod_sync_windows(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """prod AppProjects declare at least one sync window that applies to something."""
    if ARGO_KINDS.get(args.resource_type) != "AppProject" or PROD not in environments_of(args, args.props):
        return
    subject = describe(args.resource_type, args.name, args.props)
    windows = get(args.props, "spec", "syncWindows") or []
    if not windows:
        report_violation(
            f"{subject}: prod AppProjects must restrict when syncs run, but spec.syncWindows is empty. "
            "Fix: set gitops-platform:argocd.syncWindows (or keep the prod default, an allow window "
            "'0 8 * * 1-5' for 9h) so the project carries a sync window.", None)
        return
    problems = [(i, p) for i, p in enumerate(_window_problem(w) for w in windows) if p]
    if len(problems) == len(windows):
        listed = "; ".join(f"spec.syncWindows[{i}] {p}" for i, p in problems)
        report_violation(
            f"{subject}: prod AppProjects need a sync window that takes effect, but {listed}. Fix: give "
            "each window kind, schedule, duration and the applications/namespaces/clusters it covers "
            "(e.g. applications: ['*']).", None)


def validate_prod_apps_windowed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A prod Application must belong to an AppProject of this stack that has sync windows: an
    Application in `default` (or in a project the stack does not manage) escapes the windows."""
    projects: dict[str, Any] = {}
    for res in args.resources:
        if ARGO_KINDS.get(res.resource_type) == "AppProject":
            name = get(res.props, "metadata", "name")
            if isinstance(name, str):
                projects[name] = res
    for res in args.resources:
        if ARGO_KINDS.get(res.resource_type) != "Application" or PROD not in environments_of(args, res.props):
            continue
        project = get(res.props, "spec", "project")
        subject = describe(res.resource_type, res.name, res.props)
        owner = projects.get(project)
        if owner is None:
            report_violation(
                f"{subject}: prod Application uses AppProject {project!r}, which this stack does not "
                "manage, so the platform's sync windows do not apply to it. Fix: put the Application in "
                "the platform's project (gitops-platform:argocd.project).", res.urn)
        elif not any(_window_problem(w) is None for w in get(owner.props, "spec", "syncWindows") or []):
            report_violation(
                f"{subject}: prod Application uses AppProject {project!r}, which has no effective sync "
                "window. Fix: give the project a sync window (gitops-platform:argocd.syncWindows).", res.urn)


# ---------------------------------------------------------------- 2. pinned images
def image_problem(image: str) -> str | None:
    """None when `image` names an exact tag or a sha256 digest; otherwise what is wrong with it."""
    if not image or image != image.strip():
        return "is empty or padded with spaces"
    if "@" in image:
        digest = image.split("@", 1)[1]
        return None if SHA256_DIGEST.match(digest) else f"has digest {digest!r}, which is not a sha256 digest"
    name, sep, tag = image.rpartition(":")
    if not sep or not name or "/" in tag:
        return "has no tag, so it pulls :latest"
    if tag.lower() in FLOATING_TAGS:
        return f"uses the floating tag {tag!r}"
    if not any(ch.isdigit() for ch in tag):
        return f"has tag {tag!r}, which is not an exact version"
    return None


def _tag_problem(tag: str) -> str | None:
    if tag.lower() in FLOATING_TAGS:
        return f"uses the floating tag {tag!r}"
    if not any(ch.isdigit() for ch in tag):
        return f"has tag {tag!r}, which is not an exact version"
    return None


def _param_defaults(node: Mapping, scope: dict[str, Any]) -> dict[str, Any]:
    """Tekton `params` declared on this node ({name, default}), layered over the enclosing scope."""
    params = get(node, "params")
    if not _is_list(params):
        return scope
    declared = {get(p, "name"): get(p, "default") for p in params
                if isinstance(reveal(p), Mapping) and "default" in reveal(p) and isinstance(get(p, "name"), str)}
    return {**scope, **declared} if declared else scope


def _image_map_problem(image: Mapping) -> tuple[str, str] | None:
    """Helm-style `image: {repository, tag, digest}`. An empty or absent tag means the chart's default
    tag (its appVersion), which the exact chart version pins."""
    repository = get(image, "repository") or get(image, "name") or "?"
    digest = get(image, "digest")
    if isinstance(digest, str) and digest:
        if not SHA256_DIGEST.match(digest):
            return f"{repository}@{digest}", f"has digest {digest!r}, which is not a sha256 digest"
        return None
    tag = get(image, "tag")
    if tag is None or tag == "":
        return None
    problem = _tag_problem(str(tag))
    return (f"{repository}:{tag}", problem) if problem else None


def _string_image_problem(image: str, scope: dict[str, Any]) -> tuple[str, str] | None:
    ref = TEKTON_PARAM.match(image)
    if ref:
        param = ref.group(1) or ref.group(2)
        default = scope.get(param)
        if not isinstance(default, str):
            return image, f"is the Tekton parameter {param!r}, which has no pinned default"
        problem = image_problem(default)
        return (image, f"defaults (param {param!r}) to {default!r}, which {problem}") if problem else None
    if "$(" in image or "{{" in image:
        return image, "is computed at run time, so its tag cannot be checked"
    problem = image_problem(image)
    return (image, problem) if problem else None


def _is_flux_image_repository(node: Mapping) -> bool:
    api = get(node, "apiVersion")
    return get(node, "kind") == "ImageRepository" and isinstance(api, str) \
        and api.startswith("image.toolkit.fluxcd.io/")


def unpinned_images(node: Any, path: str = "", scope: dict[str, Any] | None = None,
                    repository_only: bool = False) -> Iterator[tuple[str, str, str]]:
    """(path, image, problem) for every unpinned image under `node`: `image` keys as strings
    (containers, initContainers, sidecars, Tekton steps and stepTemplate, chart values) or as
    `{repository, tag, digest}` maps (chart values), with Tekton `$(params.x)` resolved to the default."""
    node = reveal(node)
    scope = scope or {}
    if isinstance(node, Mapping):
        scope = _param_defaults(node, scope)
        flux_repository = _is_flux_image_repository(node)
        for key, value in entries(node):
            where = f"{path}.{key}" if path else str(key)
            value = reveal(value)
            if key == "image" and not repository_only:
                if isinstance(value, str):
                    found = _string_image_problem(value, scope)
                elif isinstance(value, Mapping):
                    found = _image_map_problem(value)
                else:
                    found = None
                if found:
                    yield (where, *found)
                continue
            # A Flux ImageRepository's spec.image is the repository it scans for tags, not an image to run.
            yield from unpinned_images(value, where, scope, repository_only=flux_repository and key == "spec")
    elif _is_list(node):
        for i, item in entries(node):
            yield from unpinned_images(item, f"{path}[{i}]", scope)


def undigested_task_images(props: Any) -> Iterator[tuple[str, str]]:
    """(path, image) of each step of a Tekton Task (the platform's own tasks) whose image, or the default
    of the param that chooses it, is not pinned as name:tag@sha256:<digest>."""
    spec = get(props, "spec")
    scope = _param_defaults(spec, {}) if isinstance(reveal(spec), Mapping) else {}
    for i, step in entries(get(spec, "steps") or []):
        image = get(step, "image")
        if not isinstance(image, str):
            continue
        ref = TEKTON_PARAM.match(image)
        resolved = scope.get(ref.group(1) or ref.group(2)) if ref else image
        if isinstance(resolved, str) and image_problem(resolved) is None and not TAG_AT_DIGEST.fullmatch(resolved):
            yield f"spec.steps[{i}].image", image if resolved == image else f"{image} (default {resolved})"


def validate_pinned_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every container image in every emitted object (and in chart values) is pinned; the images of the
    platform's own Tekton tasks by tag and digest."""
    if not args.resource_type.startswith("kubernetes:"):
        return
    subject = describe(args.resource_type, args.name, args.props)
    for where, image, problem in unpinned_images(args.props):
        report_violation(
            f"{subject}: image {image!r} at {where} {problem}. "
            "Fix: pin it to an exact tag or a sha256 digest (the platform's pins live in "
            "components/versions.py).", None)
    if args.resource_type == "kubernetes:tekton.dev/v1:Task":
        for where, image in undigested_task_images(args.props):
            report_violation(
                f"{subject}: image {image!r} at {where} is pinned by tag only; a tag can be pushed again. Fix: pin "
                "it as name:tag@sha256:<digest> (the tag for people, the digest for the machine; "
                "components/versions.py).", None)


# ---------------------------------------------------------------- 3. RBAC
def _wildcard_all(rules: Any) -> bool:
    for rule in reveal(rules) or []:
        if "*" in (get(rule, "verbs") or []) and "*" in (get(rule, "resources") or []) \
                and "*" in (get(rule, "apiGroups") or []):
            return True
    return False


def _argocd_chart(props: Any) -> bool:
    chart = get(props, "chart")
    return isinstance(chart, str) and chart.rstrip("/").rsplit("/", 1)[-1] == "argo-cd"


def validate_no_cluster_admin(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No binding to cluster-admin, no role that is cluster-admin in all but name, and no Argo CD chart
    left with its default `*` on `*` application-controller ClusterRole."""
    for where, obj in kubernetes_objects(args.resource_type, args.props):
        kind = kind_of(args.resource_type, obj)
        subject = describe(args.resource_type, args.name, obj, where)
        if kind in BINDING_KINDS and get(obj, "roleRef", "kind") == "ClusterRole" \
                and get(obj, "roleRef", "name") == "cluster-admin":
            report_violation(
                f"{subject}: {kind} grants the ClusterRole cluster-admin. Fix: bind a Role or ClusterRole "
                "that lists only the verbs and resources the subject needs.", None)
        if kind in ROLE_KINDS and _wildcard_all(get(obj, "rules")):
            report_violation(
                f"{subject}: {kind} grants every verb on every resource of every API group, which is "
                "cluster-admin in all but name. Fix: list the API groups, resources and verbs needed.", None)
    if args.resource_type in HELM_TYPES and _argocd_chart(args.props):
        values = get(args.props, "values") or {}
        if get(values, "createClusterRoles") is False:
            return
        rules = get(values, "controller", "clusterRoleRules")
        if get(rules, "enabled") is not True or not get(rules, "rules") or _wildcard_all(get(rules, "rules")):
            report_violation(
                f"{describe(args.resource_type, args.name)}: the argo-cd chart gives the application "
                "controller a ClusterRole of '*' on '*' (cluster-admin) unless "
                "values.controller.clusterRoleRules is enabled with explicit rules. Fix: set "
                "controller.clusterRoleRules.enabled: true with the rules Argo CD needs, or "
                "createClusterRoles: false with namespaced RBAC.", None)


SECRET_WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "*"})
# Charts known to bind a ClusterRole that writes Secrets in every namespace. flagger 1.44.0
# charts/flagger/templates/rbac.yaml: get/list/watch/create/update/patch/delete on secrets (it copies the
# canary's ConfigMaps and Secrets to -primary), bound by a ClusterRoleBinding, with no namespaced option.
# cert-manager v1.21.1 deploy/charts/cert-manager/templates/rbac.yaml: the controller's -issuers, -clusterissuers and
# -certificates ClusterRoles create/update/delete secrets (the ACME account keys, each Certificate's Secret in its
# own namespace), bound cluster-wide; its only narrower mode, the controller's --namespace flag, disables
# ClusterIssuers, which the platform's TLS uses.
SECRET_WRITING_CHARTS = {"flagger": "Flagger copies each canary's Secrets to their -primary copies, in any "
                                    "namespace (charts/flagger/templates/rbac.yaml has no namespaced mode)",
                         "cert-manager": "cert-manager writes each Certificate's Secret in the Certificate's namespace "
                                         "and the ACME account keys (templates/rbac.yaml; its --namespace mode "
                                         "disables ClusterIssuers)"}
DEFAULT_SECRET_WRITERS = ("flagger", "cert-manager")
CHART_LABEL = re.compile(r"^(?P<chart>.+)-v?[0-9]+\.[0-9]+\.[0-9]+[^/]*$")


def chart_of(obj: Any) -> str | None:
    """The chart an object was rendered from, by the `helm.sh/chart: <chart>-<version>` label charts set."""
    label = get(obj, "metadata", "labels", "helm.sh/chart")
    match = CHART_LABEL.match(label) if isinstance(label, str) else None
    return match["chart"] if match else None


def _writes_secrets(rules: Any) -> bool:
    """Whether a rule may write any Secret. A rule held to `resourceNames` writes only the Secrets it names (and
    cannot create: the API server never matches `create` against resourceNames), so it is not one: Tekton
    Triggers' core-interceptors ClusterRole updates only its own `tekton-triggers-core-interceptors-certs`
    (tektoncd/triggers@v0.37.0 config/200-clusterrole.yaml, in its release.yaml)."""
    for rule in reveal(rules) or []:
        if get(rule, "resourceNames"):
            continue
        groups, resources = get(rule, "apiGroups") or [], get(rule, "resources") or []
        if ("" in groups or "*" in groups) and ("secrets" in resources or "*" in resources) \
                and SECRET_WRITE_VERBS & set(get(rule, "verbs") or []):
            return True
    return False


def validate_cluster_wide_secret_writes(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """No identity may write Secrets in every namespace: a ClusterRoleBinding to a role with write verbs on
    secrets, or a chart known to create one, unless it is on the documented allow-list
    (`allowSecretWriters`, default: flagger)."""
    allowed = (args.get_config() or {}).get("allowSecretWriters")
    allowed = set(allowed) if _is_list(allowed) else set(DEFAULT_SECRET_WRITERS)
    roles: dict[str, bool] = {}
    charts: dict[str, str | None] = {}
    bindings: list[tuple[Any, str, Any]] = []
    for res in args.resources:
        for where, obj in kubernetes_objects(res.resource_type, res.props):
            kind = kind_of(res.resource_type, obj)
            if kind == "ClusterRole":
                roles[get(obj, "metadata", "name")] = _writes_secrets(get(obj, "rules"))
                charts[get(obj, "metadata", "name")] = chart_of(obj)
            elif kind == "ClusterRoleBinding" and get(obj, "roleRef", "kind") == "ClusterRole":
                bindings.append((res, where, obj))
        if res.resource_type in HELM_TYPES:
            chart = str(get(res.props, "chart") or "").rstrip("/").rsplit("/", 1)[-1]
            if chart in SECRET_WRITING_CHARTS and chart not in allowed:
                report_violation(
                    f"{describe(res.resource_type, res.name)}: the {chart} chart binds a ClusterRole that can write "
                    f"Secrets in every namespace ({SECRET_WRITING_CHARTS[chart]}). Fix: accept it by adding "
                    f"{chart!r} to allowSecretWriters, or do not install {chart}.", res.urn)
    for res, where, obj in bindings:
        role = get(obj, "roleRef", "name")
        if roles.get(role) and role not in allowed and charts.get(role) not in allowed:
            report_violation(
                f"{describe(res.resource_type, res.name, obj, where)}: ClusterRoleBinding gives ClusterRole {role!r}, "
                "which writes Secrets, in every namespace. Fix: bind it with RoleBindings in the namespaces that "
                "need it, or drop the write verbs on secrets.", res.urn)


def _bot_accounts(args: Any) -> tuple[str, ...]:
    configured = (args.get_config() or {}).get("ciBotServiceAccounts")
    return tuple(configured) if _is_list(configured) and configured else CI_BOT_ACCOUNTS


def _token_reason(obj: Any) -> bool:
    reason = get(obj, "metadata", "annotations", TOKEN_ANNOTATION)
    return isinstance(reason, str) and bool(reason.strip())


def _pod_specs_mounting_token(node: Any, bots: tuple[str, ...], path: str = "") -> Iterator[str]:
    node = reveal(node)
    if isinstance(node, Mapping):
        if get(node, "serviceAccountName") in bots and get(node, "automountServiceAccountToken") is True:
            yield path or "(top level)"
        for key, value in entries(node):
            yield from _pod_specs_mounting_token(value, bots, f"{path}.{key}" if path else str(key))
    elif _is_list(node):
        for i, item in entries(node):
            yield from _pod_specs_mounting_token(item, bots, f"{path}[{i}]")


def validate_ci_bot_token(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """The CI bot's ServiceAccount does not automount an API token unless annotated with the reason."""
    bots = _bot_accounts(args)
    for where, obj in kubernetes_objects(args.resource_type, args.props):
        kind = kind_of(args.resource_type, obj)
        subject = describe(args.resource_type, args.name, obj, where)
        if kind == "ServiceAccount" and get(obj, "metadata", "name") in bots and not _token_reason(obj) \
                and get(obj, "automountServiceAccountToken") is not False:
            report_violation(
                f"{subject}: the CI bot ServiceAccount mounts a Kubernetes API token into every pipeline "
                "pod (automountServiceAccountToken is not false). Fix: set automountServiceAccountToken: "
                f"false, or annotate it {TOKEN_ANNOTATION}: '<why the pipeline needs the API>'.", None)
        if kind != "ServiceAccount":
            for at in _pod_specs_mounting_token(obj, bots):
                report_violation(
                    f"{subject}: {at} runs as the CI bot with automountServiceAccountToken: true. Fix: drop "
                    "the override (the ServiceAccount keeps tokens off) or use a dedicated ServiceAccount.",
                    None)


# ---------------------------------------------------------------- 4. pinned releases
def url_problem(url: str) -> str | None:
    """None when a release-manifest URL names an exact version; otherwise why not."""
    parts = url.lower().replace("?", "/").replace("=", "/").replace("&", "/").split("/")
    floating = [p for p in parts if p in FLOATING_TAGS]
    if floating:
        return f"follows the moving {floating[0]!r}"
    if any(p[:1] == "v" and p[1:2].isdigit() for p in parts) or any(p[:1].isdigit() for p in parts) \
            or any(COMMIT_SHA.match(p) for p in parts):
        return None
    return "names no version"


def _is_url(location: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", location))


def _local(chart: str) -> bool:
    return chart.startswith(("./", "../", "/", "file://"))


def _chart_problem(props: Any) -> str | None:
    chart = get(props, "chart")
    version = get(props, "version")
    if isinstance(chart, str) and _local(chart):
        return None  # a chart directory in this repository: pinned by the commit
    if isinstance(chart, str) and _is_url(chart) and chart.endswith(".tgz") and not chart.startswith("oci://"):
        problem = url_problem(chart)
        return None if problem is None else f"chart URL {chart!r} {problem}"
    if version is None or version == "":
        return f"chart {chart!r} has no version, so Helm installs whatever is newest"
    if not isinstance(version, str) or not EXACT_VERSION.match(version):
        return f"chart {chart!r} version {version!r} is not an exact version (a range or partial version floats)"
    return None


def _revision_problem(revision: Any) -> str | None:
    if not isinstance(revision, str) or not revision:
        return "has no revision, so it follows the default branch"
    if COMMIT_SHA.match(revision) or EXACT_VERSION.match(revision):
        return None
    return f"has revision {revision!r}, which is not a commit SHA or an exact version tag"


def _resolver_refs(node: Any, path: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    node = reveal(node)
    if isinstance(node, Mapping):
        resolver = get(node, "resolver")
        if isinstance(resolver, str) and _is_list(get(node, "params")):
            params = {get(p, "name"): get(p, "value") for p in get(node, "params")}
            yield path, resolver, params
        for key, value in entries(node):
            yield from _resolver_refs(value, f"{path}.{key}" if path else str(key))
    elif _is_list(node):
        for i, item in entries(node):
            yield from _resolver_refs(item, f"{path}[{i}]")


def _resolver_problem(resolver: str, params: dict[str, Any]) -> str | None:
    if resolver == "git":
        return _revision_problem(params.get("revision"))
    if resolver == "bundles":
        bundle = params.get("bundle")
        problem = image_problem(bundle) if isinstance(bundle, str) else "is missing"
        return f"has bundle {bundle!r}, which {problem}" if problem else None
    if resolver == "http":
        url = params.get("url")
        problem = url_problem(url) if isinstance(url, str) else "is missing"
        return f"has URL {url!r}, which {problem}" if problem else None
    if resolver == "hub":
        version = params.get("version")
        if not isinstance(version, str) or not re.match(r"^[0-9]+\.[0-9]+(\.[0-9]+)?$", version):
            return f"has version {version!r}, which is not an exact catalog version"
    return None


def validate_pinned_releases(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Helm charts at exact versions; release manifests and remote Tekton tasks at exact versions."""
    subject = describe(args.resource_type, args.name, args.props)
    if args.resource_type in HELM_TYPES:
        if args.resource_type == "kubernetes:helm.sh/v4:Chart" and get(args.props, "chart") is None:
            # helm.sh/v4 Chart is a remote component: under the real engine the analyzer sees the provider's
            # own registration of it (inside Construct), which carries none of the Chart's inputs, so its pin
            # cannot be read here (found by the cluster test's real `pulumi preview --policy-pack`; the
            # children it creates are still checked). The SDK-side registration tests/test_policy.py and
            # tools.policycheck judge carries them, and an unpinned one fails there.
            return
        problem = _chart_problem(args.props)
        if problem:
            report_violation(f"{subject}: {problem}. Fix: set an exact chart version such as '1.2.3' "
                             "(pins live in components/versions.py).", None)
    elif args.resource_type in ("kubernetes:yaml/v2:ConfigFile", "kubernetes:yaml/v2:ConfigGroup"):
        files = get(args.props, "files") if args.resource_type.endswith("ConfigGroup") else [get(args.props, "file")]
        for location in files or []:
            if isinstance(location, str) and _is_url(location):
                problem = url_problem(location)
                if problem:
                    report_violation(f"{subject}: release manifest URL {location!r} {problem}. Fix: point it "
                                     "at a versioned release asset (…/v1.2.3/release.yaml).", None)
    elif args.resource_type == "kubernetes:kustomize/v2:Directory":
        directory = get(args.props, "directory")
        if isinstance(directory, str) and _is_url(directory):
            problem = url_problem(directory)
            if problem:
                report_violation(f"{subject}: kustomization URL {directory!r} {problem}. Fix: add ?ref=<tag "
                                 "or commit>.", None)
    elif args.resource_type in ("kubernetes:yaml:ConfigFile", "kubernetes:yaml:ConfigGroup"):
        report_violation(f"{subject}: yaml v1 components register without their file or URL, so the pin "
                         "cannot be checked. Fix: use kubernetes:yaml/v2:ConfigFile / ConfigGroup.", None)
    for where, obj in kubernetes_objects(args.resource_type, args.props):
        obj_subject = describe(args.resource_type, args.name, obj, where)
        for path, resolver, params in _resolver_refs(obj):
            problem = _resolver_problem(resolver, params)
            if problem:
                report_violation(f"{obj_subject}: the {resolver} resolver reference at {path} {problem}. "
                                 "Fix: pin it (commit SHA or release tag; versions.gitCloneTaskRevision, versions.kanikoTaskRevision).",
                                 None)
        if kind_of(args.resource_type, obj) == "Application":
            sources = [get(obj, "spec", "source")] + list(get(obj, "spec", "sources") or [])
            for source in sources:
                if isinstance(source, Mapping) and get(source, "chart"):
                    revision = get(source, "targetRevision")
                    if not isinstance(revision, str) or not EXACT_VERSION.match(revision):
                        report_violation(
                            f"{obj_subject}: Helm source chart {get(source, 'chart')!r} has targetRevision "
                            f"{revision!r}, not an exact chart version. Fix: set targetRevision: '1.2.3'.", None)


# ---------------------------------------------------------------- 5. secrets
def _secret_value_paths(values: Any, path: tuple = ()) -> Iterator[tuple]:
    """Paths of credential-carrying leaves (SECRET_VALUE_KEYS) in chart values."""
    node = values
    if isinstance(node, Secret):
        return
    if isinstance(node, Mapping):
        for key, value in entries(node):
            if isinstance(key, str) and key.lower() in SECRET_VALUE_KEYS and isinstance(value, str) and value:
                yield (*path, key)  # a plain string: a Pulumi secret would arrive as a Secret marker
            else:
                yield from _secret_value_paths(value, (*path, key))
    elif _is_list(node):
        for i, item in entries(node):
            yield from _secret_value_paths(item, (*path, i))


def validate_secrets_are_pulumi_secrets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Secret data, and credentials in chart values, are Pulumi secrets, never plain values."""
    for where, obj in kubernetes_objects(args.resource_type, args.props):
        if kind_of(args.resource_type, obj) not in ("Secret", "SecretPatch") or get(obj, "apiVersion") != "v1":
            continue
        subject = describe(args.resource_type, args.name, obj, where)
        if where:
            if get(obj, "data") or get(obj, "stringData"):
                report_violation(
                    f"{subject}: a Secret written into a manifest carries its data in plain text. Fix: create "
                    "it as kubernetes:core/v1:Secret with values from `pulumi config set --secret` or "
                    "pulumi_random, wrapped in pulumi.Output.secret.", None)
            continue
        for field in ("data", "stringData"):
            values = get(obj, field)
            if not isinstance(values, Mapping):
                continue
            plain_keys = [key for key, value in entries(values)
                          if reveal(value) is not None and not secret_at(obj, field, key)]
            if plain_keys:
                report_violation(
                    f"{subject}: {field} key(s) {', '.join(sorted(map(str, plain_keys)))} are plain values, "
                    "not Pulumi secrets, so they are stored unencrypted in the state and shown in diffs. Fix: "
                    "take them from `pulumi config set --secret` or pulumi_random and pass them as secret "
                    "Outputs (pulumi.Output.secret).", None)
    if args.resource_type in HELM_TYPES:
        for path in _secret_value_paths(dict(entries(args.props)).get("values")):
            dotted = ".".join(str(p) for p in path)
            report_violation(
                f"{describe(args.resource_type, args.name)}: chart value {dotted} carries a credential as a "
                "plain value. Fix: pass it as a secret Output (config secret or pulumi_random).", None)


# ---------------------------------------------------------------- the pack's policies
POLICIES = [
    ResourceValidationPolicy(
        name="prod-applications-sync-manually",
        description="prod Argo CD Applications never sync automatically.",
        validate=validate_prod_manual_sync, config_schema=ENVIRONMENT_SCHEMA),
    ResourceValidationPolicy(
        name="prod-projects-have-sync-windows",
        description="prod Argo CD AppProjects carry a sync window that applies to their Applications.",
        validate=validate_prod_sync_windows, config_schema=ENVIRONMENT_SCHEMA),
    StackValidationPolicy(
        name="prod-applications-in-windowed-project",
        description="prod Argo CD Applications belong to a platform AppProject with sync windows.",
        validate=validate_prod_apps_windowed, config_schema=ENVIRONMENT_SCHEMA),
    ResourceValidationPolicy(
        name="images-pinned",
        description="Every container image is pinned to an exact tag or digest, never latest or untagged.",
        validate=validate_pinned_images),
    ResourceValidationPolicy(
        name="no-cluster-admin",
        description="Nothing is bound to cluster-admin or to a role equivalent to it.",
        validate=validate_no_cluster_admin),
    StackValidationPolicy(
        name="no-cluster-wide-secret-writes",
        description="No identity may create, change or delete Secrets in every namespace, except the allow-list.",
        validate=validate_cluster_wide_secret_writes,
        config_schema=PolicyConfigSchema(properties={"allowSecretWriters": {
            "type": "array", "items": {"type": "string"},
            "description": "Charts or ClusterRoles allowed to write Secrets cluster-wide (default: flagger)"}})),
    ResourceValidationPolicy(
        name="ci-bot-no-token-automount",
        description="The CI bot ServiceAccount does not automount a Kubernetes API token unless it needs one.",
        validate=validate_ci_bot_token,
        config_schema=PolicyConfigSchema(properties={"ciBotServiceAccounts": {
            "type": "array", "items": {"type": "string"},
            "description": "ServiceAccount names of CI bots (default: pipeline-bot)"}})),
    ResourceValidationPolicy(
        name="releases-pinned",
        description="Helm charts, release-manifest URLs and remote Tekton tasks are pinned to exact versions.",
        validate=validate_pinned_releases),
    ResourceValidationPolicy(
        name="secrets-from-pulumi-secrets",
        description="Secret data and chart credentials come from Pulumi secrets, never plain values.",
        validate=validate_secrets_are_pulumi_secrets),
]
