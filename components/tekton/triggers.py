"""Triggers: one EventListener, one TriggerBinding and one TriggerTemplate for every app.

Each app with a `sourceRepo` gets an inline trigger in the single EventListener: the GitHub interceptor
checks the webhook signature and the `push` event, a CEL interceptor keeps only pushes of a branch of that
app's repository, and static bindings add the app's name, image and overlay. The shared TriggerBinding
takes the repo URL, commit and branch from the push payload; the TriggerTemplate starts `gitops-ci`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlparse

from components.config import App, PlatformConfig
from components.models import ObjectMeta
from components.models.tekton import (
    ClaimSpec,
    EventListener,
    EventListenerBinding,
    EventListenerSpec,
    EventListenerTrigger,
    Interceptor,
    InterceptorParam,
    InterceptorRef,
    KeyToPath,
    Param,
    PipelineRef,
    PipelineRun,
    PipelineRunSpec,
    PipelineRunTimeouts,
    ResourceRequests,
    RunMeta,
    SecretVolume,
    TaskRunTemplate,
    TemplateRef,
    TriggerBinding,
    TriggerBindingSpec,
    TriggerTemplate,
    TriggerTemplateParam,
    TriggerTemplateSpec,
    VolumeClaimTemplate,
    WorkspaceBinding,
)
from components.tekton.pipelines import GITOPS_CI

LISTENER = "gitops-ci"
BINDING = "github-push"
TEMPLATE = "gitops-ci-run"
WEBHOOK_SECRET_KEY = "secretToken"
LISTENER_PORT = 8080  # the port of the Service Triggers creates for an EventListener


@dataclass(frozen=True)
class TriggerNames:
    pipeline_bot: str            # ServiceAccount of the PipelineRuns
    listener_account: str        # ServiceAccount of the EventListener
    webhook_secret: str          # Secret with the GitHub webhook secret under WEBHOOK_SECRET_KEY
    registry_secret: str | None  # dockerconfigjson Secret bound as the `dockerconfig` workspace, if any


def web_url(repo_url: str) -> str:
    """The https URL GitHub reports as `repository.html_url` for a clone URL (https, ssh or git@)."""
    if "://" in repo_url:
        parsed = urlparse(repo_url)
        host, path = parsed.hostname or "", parsed.path
    else:
        host, path = repo_url.split("@", 1)[-1].split(":", 1)
    path = "/" + path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"https://{host}{path}".lower()


def push_filter(app: App) -> str:
    """CEL: a push (not a deletion) of a branch of the app's source repository."""
    return ("body.ref.startsWith('refs/heads/') && !body.deleted && "
            f"body.repository.html_url.lowerAscii() == {json.dumps(web_url(app.source_repo))}")


def listener_url(namespace: str) -> str:
    return f"http://el-{LISTENER}.{namespace}.svc.cluster.local:{LISTENER_PORT}"


def binding(namespace: str) -> TriggerBinding:
    return TriggerBinding(metadata=ObjectMeta(name=BINDING, namespace=namespace), spec=TriggerBindingSpec(params=[
        Param(name="source-url", value="$(body.repository.clone_url)"),
        Param(name="source-revision", value="$(body.after)"),
        Param(name="source-branch", value="$(extensions.branch)"),
    ]))


def template(cfg: PlatformConfig, names: TriggerNames) -> TriggerTemplate:
    tekton = cfg.tekton
    params = ["source-url", "source-revision", "source-branch", "app-name", "image", "overlay-path"]

    def claim() -> VolumeClaimTemplate:
        return VolumeClaimTemplate(spec=ClaimSpec(access_modes=["ReadWriteOnce"],
                                                  resources=ResourceRequests(requests={"storage": tekton.storage})))

    workspaces = [WorkspaceBinding(name="source", volume_claim_template=claim()),
                  WorkspaceBinding(name="config", volume_claim_template=claim())]
    if names.registry_secret:
        # kaniko reads /kaniko/.docker/config.json: mount the dockerconfigjson key under that name.
        workspaces.append(WorkspaceBinding(name="dockerconfig", secret=SecretVolume(
            secret_name=names.registry_secret, items=[KeyToPath(key=".dockerconfigjson", path="config.json")])))
    run = PipelineRun(
        metadata=RunMeta(generate_name="$(tt.params.app-name)-ci-", namespace=tekton.namespace,
                         labels={"app.kubernetes.io/managed-by": "gitops-platform",
                                 "gitops-platform/app": "$(tt.params.app-name)"}),
        spec=PipelineRunSpec(
            pipeline_ref=PipelineRef(name=GITOPS_CI),
            params=[Param(name=p, value=f"$(tt.params.{p})") for p in params],
            workspaces=workspaces,
            task_run_template=TaskRunTemplate(service_account_name=names.pipeline_bot),
            timeouts=PipelineRunTimeouts(pipeline="1h")))
    return TriggerTemplate(
        metadata=ObjectMeta(name=TEMPLATE, namespace=tekton.namespace),
        spec=TriggerTemplateSpec(params=[TriggerTemplateParam(name=p) for p in params], resourcetemplates=[run]))


def app_trigger(cfg: PlatformConfig, app: App, names: TriggerNames) -> EventListenerTrigger:
    github = Interceptor(ref=InterceptorRef(name="github"), params=[
        InterceptorParam(name="secretRef", value={"secretName": names.webhook_secret,
                                                  "secretKey": WEBHOOK_SECRET_KEY}),
        InterceptorParam(name="eventTypes", value=["push"]),
    ])
    cel = Interceptor(ref=InterceptorRef(name="cel"), params=[
        InterceptorParam(name="filter", value=push_filter(app)),
        InterceptorParam(name="overlays", value=[{"key": "branch", "expression": "body.ref.substring(11)"}]),
    ])
    static = {"app-name": app.name, "image": app.image, "overlay-path": cfg.path_of(app)}
    return EventListenerTrigger(
        name=app.name, interceptors=[github, cel],
        bindings=[EventListenerBinding(ref=BINDING, kind="TriggerBinding"),
                  *(EventListenerBinding(name=k, value=v) for k, v in static.items())],
        template=TemplateRef(ref=TEMPLATE))


def event_listener(cfg: PlatformConfig, names: TriggerNames) -> EventListener:
    """One listener for every app with a source repo (apps without one are deployed but never built)."""
    return EventListener(
        metadata=ObjectMeta(name=LISTENER, namespace=cfg.tekton.namespace),
        spec=EventListenerSpec(service_account_name=names.listener_account,
                               triggers=[app_trigger(cfg, app, names) for app in cfg.apps if app.source_repo]))
