"""Reading the stack: raw Pulumi config -> validated `PlatformConfig`, or every problem, one keyed line each.

`load_config` turns the raw structured config (keys without the `gitops-platform:` prefix) into a
`PlatformConfig` or raises `ConfigError`. `read_stack` does it for the running stack and also checks the
secrets: a secret key written in clear text, a secret value under a key that is not a secret, a secret
that is a mapping, and the combinations that need a secret (an ssh config repo without its key). No
message ever shows a secret's value.
"""
from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from components.config.apps import App
from components.config.base import PROJECT, PlatformConfigErrors, is_cluster_local, repo_host, repo_is_ssh
from components.config.embedded import embedded_defaults
from components.config.platform import PlatformConfig, cross_checks
from components.config.secrets import PlatformSecrets

ENVIRONMENTS = ("dev", "staging", "prod")
# Top-level keys that hold secrets: set with `pulumi config set --secret`, never in the model.
SECRET_KEYS = (
    "gitToken",             # config repo token (Argo CD repo secret, Tekton git-0, Flux GitRepository)
    "registryPassword",     # registry password/token (Tekton docker-0, Flux ImageRepository)
    "gitSshPrivateKey",     # SSH deploy key for an ssh config repo
    "argocdWebhookSecret",  # optional: generated when absent
    "tektonWebhookSecret",  # optional: generated when absent
    "fluxWebhookToken",     # optional: generated when absent
)
SECRET_FIELDS = {"git_token": "gitToken", "registry_password": "registryPassword",
                 "git_ssh_private_key": "gitSshPrivateKey", "argocd_webhook_secret": "argocdWebhookSecret",
                 "tekton_webhook_secret": "tektonWebhookSecret", "flux_webhook_token": "fluxWebhookToken"}
# Keys that meant something once: a clear message instead of "unknown key" (their values are never shown).
RETIRED_KEYS = {
    "argocdToken": "is no longer used: the pipeline tells Argo CD about a push through its webhook and waits "
                   "read-only, so no Argo CD token is needed; remove it (pulumi config rm argocdToken)",
}


class ConfigError(Exception):
    """Invalid stack config; `lines` are ready to print, one problem each."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def _key(loc: tuple[Any, ...]) -> str:
    key = PROJECT + ":"
    first = True
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z0-9_.-]+", str(part)):
            key += f"[{str(part)!r}]"  # a hostile key is quoted, never printed raw (newlines, spaces)
        else:
            key += ("" if first else ".") + str(part)
        first = False
    return key


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


TYPE_MESSAGES = {
    "int_type": "must be a whole number", "int_from_float": "must be a whole number",
    "bool_type": "must be true or false", "float_type": "must be a number",
    "string_type": "must be a string (quote it in YAML)", "list_type": "must be a list",
    "dict_type": "must be a mapping of keys", "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
}


def _message(err: dict[str, Any]) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see the config reference in README.md)"
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        expected = msg.split("Input should be ", 1)[-1]
        return f"{_shown(value)} is not one of {expected}"
    if kind.startswith("value_error"):
        return msg.removeprefix("Value error, ")
    if kind in TYPE_MESSAGES:
        return f"{TYPE_MESSAGES[kind]}, got {type(value).__name__} {_shown(value)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"must be {msg.removeprefix('Input should be ')}, got {_shown(value)}"
    if kind in ("too_short", "too_long"):
        return msg.replace("List", "the list").replace("Value", "the value")
    return f"{msg.removeprefix('Input should be ').join(['must be ', ''])}, got {_shown(value)}" \
        if msg.startswith("Input should be") else msg


def _normalise_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic reports model aliases already; drop internal markers such as 'function-after[...]'.
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p and p.endswith("]"))))


def _lines(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = prefix + _normalise_loc(err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, PlatformConfigErrors):
            base = _key(loc)
            sep = "" if base.endswith(":") else "."
            lines += [f"{base}{sep if not k.startswith('[') else ''}{k}: {m}" for k, m in ctx_error.errors]
            continue
        lines.append(f"{_key(loc)}: {_message(err)}")
    return lines


def _salvaged_cross_checks(data: dict[str, Any]) -> list[str]:
    """Cross-section problems among the sections and apps that are valid on their own, so that one run
    reports them beside the sections' own errors."""
    values: dict[str, Any] = {}
    for name, field in PlatformConfig.model_fields.items():
        if name == "apps" or field.alias not in data:
            continue
        try:
            values[name] = TypeAdapter(field.annotation).validate_python(data[field.alias])
        except ValidationError:
            pass
    if "environment" not in values:
        return []
    apps = []
    for i, app in enumerate(data.get("apps") or [] if isinstance(data.get("apps"), list) else []):
        try:
            apps.append((i, App.model_validate(app)))
        except ValidationError:
            pass
    defaults = {name: field.get_default(call_default_factory=True) for name, field in PlatformConfig.model_fields.items()
                if not field.is_required()}
    cfg = PlatformConfig.model_construct(**{**defaults, **values, "apps": [a for _, a in apps]})
    return [f"{PROJECT}:{key}: {message}" for key, message in cross_checks(cfg, apps)]


def load_config(raw: dict[str, Any], stack: str) -> PlatformConfig:
    """Validate raw structured config (keys without the project prefix) for `stack`."""
    data = dict(raw)
    if "environment" not in data:
        if stack in ENVIRONMENTS:
            data["environment"] = stack
        else:
            raise ConfigError([f"{PROJECT}:environment: is required because stack {stack!r} is not named "
                               f"after an environment ({', '.join(ENVIRONMENTS)})"])
    lines = [f"{PROJECT}:{key}: {why}" for key, why in RETIRED_KEYS.items() if key in data]
    for key in [*RETIRED_KEYS, *SECRET_KEYS]:
        data.pop(key, None)
    data = embedded_defaults(data)
    try:
        config = PlatformConfig.model_validate(data)
    except ValidationError as exc:
        lines += [line + " (the embedded Git server is for kind clusters only)"
                  if line == f"{PROJECT}:configRepo: is required" else line for line in _lines(exc)]
        lines += _salvaged_cross_checks(data)
    else:
        if not lines:
            return config
    raise ConfigError(list(dict.fromkeys(lines)))


# ---------------------------------------------------------------- the running stack
def _secret_keys() -> set[str]:
    from pulumi.runtime import config as runtime_config

    return set(runtime_config._SECRET_KEYS.get()) | set(runtime_config.get_config_secret_keys_env())


def _raw_stack_config() -> dict[str, Any]:
    """Every `gitops-platform:*` key the engine passed to the program, structured values decoded."""
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for key, value in merged.items():
        namespace, _, name = key.partition(":")
        if namespace != PROJECT:
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        raw[name] = value
    return raw


def secret_problems(raw: dict[str, Any], secret_keys: set[str]) -> tuple[list[str], dict[str, Any]]:
    """(error lines, the config without secrets) for raw config and the keys the engine marks secret."""
    lines: list[str] = []
    cleaned = {}
    for key, value in raw.items():
        secret = f"{PROJECT}:{key}" in secret_keys
        if key in SECRET_KEYS:
            if not secret:
                lines.append(f"{PROJECT}:{key}: is written in clear text in the stack file; remove it "
                             f"(pulumi config rm {key}) and set it as a secret: pulumi config set --secret {key} "
                             "<value>")
            elif not isinstance(value, str):
                lines.append(f"{PROJECT}:{key}: must be one secret string, not a {type(value).__name__} (set it with "
                             f"pulumi config set --secret {key} <value>, without --path)")
            continue
        if secret and key not in RETIRED_KEYS:
            lines.append(f"{PROJECT}:{key}: holds a secret value, but {key!r} is not a secret setting (secrets are "
                         f"{', '.join(SECRET_KEYS)}); its value is not shown")
            continue
        cleaned[key] = value
    return lines, cleaned


def combination_problems(config: PlatformConfig, present: set[str]) -> list[str]:
    """Config that only works with a secret set, or must not be used with one."""
    lines = []
    if config.embedded_git and "gitToken" in present:
        lines.append(f"{PROJECT}:gitToken: is for a Git server of your own (set configRepo); the embedded one's "
                     "credentials are generated (pulumi stack output gitServerPassword --show-secrets)")
    url = config.config_repo.url
    if repo_is_ssh(url) and "gitSshPrivateKey" not in present:
        lines.append(f"{PROJECT}:gitSshPrivateKey: is required: configRepo.url is an ssh URL, and ssh always needs a "
                     "key (pulumi config set --secret gitSshPrivateKey < deploy_key)")
    if url.startswith("http://") and "gitToken" in present and not is_cluster_local(repo_host(url)):
        lines.append(f"{PROJECT}:configRepo.url: is plain http:// and gitToken is set: the token would cross the "
                     "network in clear; use https:// (plain http is only for a git server inside the cluster)")
    if config.registry.pull_secret and "registryPassword" not in present:
        lines.append(f"{PROJECT}:registryPassword: is required: registry.pullSecret makes the apps' image pull Secret "
                     "from registry.username and it (pulumi config set --secret registryPassword ...)")
    for i, app in enumerate(config.apps):
        src = app.source_repo or ""
        if src.startswith("http://") and "gitToken" in present and repo_host(src) == repo_host(url) \
                and not is_cluster_local(repo_host(src)):
            lines.append(f"{PROJECT}:apps[{i}].sourceRepo: is plain http:// on the host gitToken authenticates to; "
                         "use https://")
    return lines


def read_stack():
    """(PlatformConfig, PlatformSecrets) of the running stack, or ConfigError with every problem."""
    import pulumi

    raw = _raw_stack_config()
    lines, cleaned = secret_problems(raw, _secret_keys())
    try:
        config = load_config(cleaned, pulumi.get_stack())
    except ConfigError as err:
        raise ConfigError(lines + err.lines) from None
    present = {key for key in SECRET_KEYS if key in raw}
    lines += combination_problems(config, present)
    if lines:
        raise ConfigError(lines)
    stack_config = pulumi.Config(PROJECT)
    return config, PlatformSecrets(**{field: stack_config.get_secret(key) if key in present else None
                                      for field, key in SECRET_FIELDS.items()})
