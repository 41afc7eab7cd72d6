"""The objects that grow with the apps, measured before anything is created.

Most per-app data is one small object per app, but three objects hold an entry per app or per app namespace:
the gitops-ci EventListener (one inline trigger per app with a `sourceRepo`, about 1.1 KiB each), the
AppProject (one destination per app namespace) and the canary Prometheus's scrape config (one name per canary
namespace). An object the API server cannot store fails `pulumi up` half-way (etcd refuses a request over
`--max-request-bytes`, 1.5 MiB by default: etcd-io/etcd@v3.6.16:server/embed/config.go DefaultMaxRequestBytes),
so the stack config is refused first, naming the key and how many apps fit. The bound is 1 MiB of compact JSON,
leaving the rest for what the API server adds (metadata.managedFields, status).
"""
from __future__ import annotations

import json

import yaml

from components.config import ConfigError, PlatformConfig
from components.config.base import PROJECT

MAX_OBJECT_BYTES = 1 << 20


def size_of(manifest: dict) -> int:
    """Bytes of the object as JSON without whitespace (what a custom resource is stored as)."""
    return len(json.dumps(manifest, separators=(",", ":"), ensure_ascii=False).encode())


def growing_objects(cfg: PlatformConfig) -> list[tuple[str, str, int, dict]]:
    """(config key that makes it grow, `Kind/name`, entries, manifest) of every object that grows with the
    apps, built by the same functions the components build them with."""
    from components import prometheus
    from components.applications import app_project
    from components.argocd import NAMESPACE as ARGOCD_NAMESPACE
    from components.tekton import identity, triggers

    found: list[tuple[str, str, int, dict]] = []
    if cfg.tekton_enabled:
        names = triggers.TriggerNames(pipeline_bot=identity.PIPELINE_BOT, watcher=identity.WATCHER,
                                      listener_account=identity.LISTENER_ACCOUNT,
                                      webhook_secret=identity.WEBHOOK_SECRET, registry_secret=None)
        listener = triggers.event_listener(cfg, names).manifest()
        found.append(("apps", f"EventListener/{triggers.LISTENER}", len(listener["spec"].get("triggers") or []),
                      listener))
    project = app_project(cfg, ARGOCD_NAMESPACE, {})
    found.append(("apps", f"AppProject/{cfg.argocd_project}", len(cfg.app_namespaces), project.manifest()))
    if cfg.flagger_enabled and cfg.installs_prometheus:
        namespaces = sorted({cfg.namespace_of(a) for a in cfg.apps if a.has_canary})
        config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{prometheus.NAME}-config"},
                      "data": {"prometheus.yml": yaml.safe_dump(prometheus.scrape_config(namespaces), sort_keys=False)}}
        found.append(("apps", f"ConfigMap/{prometheus.NAME}-config", len(namespaces), config_map))
    return found


def size_problems(cfg: PlatformConfig) -> list[tuple[str, str]]:
    """(key, message) for every growing object over MAX_OBJECT_BYTES, with how many entries would fit."""
    problems = []
    for key, what, entries, manifest in growing_objects(cfg):
        size = size_of(manifest)
        if size <= MAX_OBJECT_BYTES:
            continue
        fits = int(entries * MAX_OBJECT_BYTES / size) if entries else 0
        problems.append((key, f"{what} would be {size / 1024:.0f} KiB with its {entries} entries, over the "
                              f"{MAX_OBJECT_BYTES // 1024} KiB an object may have (the API server stores objects "
                              f"in etcd, which refuses larger requests): about {fits} fit; split the apps "
                              "over stacks"))
    return problems


def checked(cfg: PlatformConfig) -> PlatformConfig:
    """`cfg`, or ConfigError with one `gitops-platform:<key>: ...` line per object that would be too large
    (called by __main__.py with the validated config, before any resource is registered; the config package
    itself never imports the components that build the objects)."""
    problems = size_problems(cfg)
    if problems:
        raise ConfigError([f"{PROJECT}:{key}: {message}" for key, message in problems])
    return cfg
