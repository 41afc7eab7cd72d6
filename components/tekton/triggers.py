"""Triggers: one EventListener, one TriggerBinding and one TriggerTemplate for every app.

Each app with a `sourceRepo` gets an inline trigger in the single EventListener: the GitHub interceptor
checks the webhook signature and the `push` event (Gitea sends the same headers), a CEL interceptor keeps
only the pushes that should build that app, and static bindings add the app's name, image, overlay and
build settings. The shared TriggerBinding takes the repo URL, commit and branch from the push payload;
the TriggerTemplate starts `gitops-ci` with the pod template every step needs.
"""
from __future__ import annotations

from dataclasses import dataclass

from components.config import App, PlatformConfig, canary_wait_seconds, glob_regex
from components.models import ObjectMeta
from components.models.tekton import (
    ClaimSpec,
    ConfigMapProjection,
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
    PipelineTaskRunSpec,
    PodSecurityContext,
    PodTemplate,
    ProjectedVolume,
    ResourceRequests,
    RunMeta,
    SecretVolume,
    ServiceAccountTokenProjection,
    TaskRunTemplate,
    TemplateRef,
    TriggerBinding,
    TriggerBindingSpec,
    TriggerTemplate,
    TriggerTemplateParam,
    TriggerTemplateSpec,
    VolumeClaimTemplate,
    VolumeProjection,
    WorkspaceBinding,
)
from components.tekton.catalog import GIT_CLONE_UID
from components.tekton.pipelines import GITOPS_CI, KUBE_API, STAGE_RELEASE, WORK, source_clone_url
from components.tekton.steps.api import web_url

LISTENER = "gitops-ci"
BINDING = "github-push"
TEMPLATE = "gitops-ci-run"
WEBHOOK_SECRET_KEY = "secretToken"
LISTENER_PORT = 8080  # the port of the Service Triggers creates for an EventListener


# Every step the runs start can write its workspaces: kubelet makes the volume group-owned by this gid
# (block storage such as EBS starts root-owned 0755, where git-clone's uid 65532 could not write).
FS_GROUP = GIT_CLONE_UID
POD_TEMPLATE = PodTemplate(security_context=PodSecurityContext(fs_group=FS_GROUP,
                                                               fs_group_change_policy="OnRootMismatch"))
TOKEN_SECONDS = 3600
# The pipeline tasks that run as the read-only watcher (the others as pipeline-bot), per pipeline.
WATCHER_TASKS = {GITOPS_CI: ("wait-for-deploy",), STAGE_RELEASE: ("release-gate",)}


@dataclass(frozen=True)
class TriggerNames:
    pipeline_bot: str            # ServiceAccount of the PipelineRuns
    watcher: str                 # ServiceAccount of the read-only wait task
    listener_account: str        # ServiceAccount of the EventListener
    webhook_secret: str          # Secret with the GitHub webhook secret under WEBHOOK_SECRET_KEY
    registry_secret: str | None  # dockerconfigjson Secret bound as the `dockerconfig` workspace, if any


def canary_of(cfg: PlatformConfig, app: App) -> str:
    """namespace/name of the Canary the pipeline waits for ("" when the app has none Flagger runs)."""
    return f"{cfg.namespace_of(app)}/{app.name}" if app.has_canary and cfg.flagger_enabled else ""


def cel_string(value: str) -> str:
    """`value` as a CEL string literal that cel-go decodes back to exactly `value`: ASCII printable
    characters as themselves (quote and backslash escaped), everything else as a `\\u`/`\\U` code point
    escape (cel-go parser/unescape.go decodes `\\uXXXX` to that code point and `\\UXXXXXXXX` to any
    code point, but a UTF-16 surrogate pair written as two `\\u` escapes, which json.dumps produces for
    characters outside the BMP, becomes two U+FFFD replacement characters)."""
    out = []
    for ch in value:
        code = ord(ch)
        if ch in "\"\\":
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def lower_ascii(value: str) -> str:
    """What CEL's `lowerAscii()` does (cel-go ext/strings.go): A-Z to a-z, every other character as is
    (Python's `str.lower()` also lowers Ø, İ, Σ...: a bot address with one would never compare equal)."""
    return "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in value)


# What a push must carry before its fields may become params: a full commit id (SHA-1 or SHA-256
# repositories) and a branch ref of characters that cannot form a Tekton variable or a git option.
REVISION = r"^[0-9a-f]{40}([0-9a-f]{24})?$"
BRANCH_REF = r"^refs/heads/[A-Za-z0-9._/+@=-]{1,244}$"


# GitHub lists at most 2048 commits in a push webhook ("The array includes a maximum of 2048 commits",
# docs.github.com/en/webhooks/webhook-events-and-payloads#push) and sends no total.
GITHUB_MAX_COMMITS = 2048


def truncated_push() -> str:
    """CEL: the payload may list fewer commits than the push has, so its file lists are incomplete and
    the push must build rather than be judged by them. Gitea cuts the list to [ui] FEED_MAX_COMMIT_NUM
    commits (default 5) and reports the real count as `total_commits`, and a new branch lists at most 10
    commits with a count cut the same way (go-gitea/gitea services/repository/push.go, modules/repository/
    commits.go, services/webhook/notifier.go); GitHub lists at most 2048 with no count (the Events API
    form carries `size`)."""
    return ("(has(body.total_commits) && body.total_commits > size(body.commits)) || "
            "(has(body.size) && body.size > size(body.commits)) || "
            f"size(body.commits) >= {GITHUB_MAX_COMMITS} || body.before.matches('^0+$')")


def push_filter(cfg: PlatformConfig, app: App) -> str:
    """CEL: a push (not a deletion) of a branch of the app's source repository, whose commit id and branch
    are well-formed (they become params), with at least one commit that is not the pipeline-bot's own (its
    deploy commits must never start CI: a config repo inside the source repo would loop) and, when the app
    lists build paths, that changes a file under them, or any such commit when the list is truncated."""
    bot = cel_string(lower_ascii(cfg.tekton.git_user_email))
    not_bot = f"c.committer.email.lowerAscii() != {bot}"
    if app.build.paths:
        matches = " || ".join(f"f.matches({cel_string(glob_regex(p))})" for p in app.build.paths)
        commits = (f"body.commits.exists(c, {not_bot} && ({truncated_push()} || "
                   f"(c.added + c.modified + c.removed).exists(f, {matches})))")
    else:
        commits = f"body.commits.exists(c, {not_bot})"
    return (f"body.ref.matches({cel_string(BRANCH_REF)}) && body.after.matches({cel_string(REVISION)}) && "
            "!(has(body.deleted) && body.deleted) && "
            f"body.repository.html_url.lowerAscii() == {cel_string(lower_ascii(web_url(app.source_repo)))} && "
            f"{commits}")


def listener_url(namespace: str) -> str:
    return f"http://el-{LISTENER}.{namespace}.svc.cluster.local:{LISTENER_PORT}"


def binding(namespace: str) -> TriggerBinding:
    """The only values a push hands to a run: its commit id and its branch, both checked by the filter
    (REVISION, BRANCH_REF) before the binding reads them. The repository to clone is the app's own
    `sourceRepo` (a static binding per trigger), never the payload's clone_url."""
    return TriggerBinding(metadata=ObjectMeta(name=BINDING, namespace=namespace), spec=TriggerBindingSpec(params=[
        Param(name="source-revision", value="$(body.after)"),
        Param(name="source-branch", value="$(extensions.branch)"),
    ]))


def kube_api_workspace() -> WorkspaceBinding:
    """The wait task's credentials: a short-lived token of its own ServiceAccount and the cluster CA,
    projected into that task only (the ServiceAccounts mount no token)."""
    return WorkspaceBinding(name=KUBE_API, projected=ProjectedVolume(sources=[
        VolumeProjection(service_account_token=ServiceAccountTokenProjection(path="token",
                                                                             expiration_seconds=TOKEN_SECONDS)),
        VolumeProjection(config_map=ConfigMapProjection(name="kube-root-ca.crt",
                                                        items=[KeyToPath(key="ca.crt", path="ca.crt")])),
    ]))


def work_workspace(cfg: PlatformConfig) -> WorkspaceBinding:
    """One volume per run (the source and config checkouts are subPaths of it): a task binding two
    claims would be refused by Tekton's affinity assistant ("more than one PersistentVolumeClaim")."""
    return WorkspaceBinding(name=WORK, volume_claim_template=VolumeClaimTemplate(spec=ClaimSpec(
        access_modes=["ReadWriteOnce"], resources=ResourceRequests(requests={"storage": cfg.tekton.storage}),
        storage_class_name=cfg.tekton.storage_class)))


def run_spec_options(names: TriggerNames, pipeline: str = GITOPS_CI) -> dict:
    """Who each task runs as: pipeline-bot (no API token) everywhere, the watcher for the wait task; every
    pod with the fsGroup (a per-task pod template replaces the run's securityContext, so it repeats it)."""
    return {"task_run_template": TaskRunTemplate(service_account_name=names.pipeline_bot, pod_template=POD_TEMPLATE),
            "task_run_specs": [PipelineTaskRunSpec(pipeline_task_name=task, service_account_name=names.watcher,
                                                   pod_template=POD_TEMPLATE) for task in WATCHER_TASKS[pipeline]]}


def template(cfg: PlatformConfig, names: TriggerNames) -> TriggerTemplate:
    params = ["source-url", "source-revision", "source-branch", "app-name", "image", "overlay-path", "context",
              "dockerfile", "canary", "canary-timeout"]
    tekton = cfg.tekton
    workspaces = [work_workspace(cfg), kube_api_workspace()]
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
            **run_spec_options(names),
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
        InterceptorParam(name="filter", value=push_filter(cfg, app)),
        InterceptorParam(name="overlays", value=[{"key": "branch", "expression": "body.ref.substring(11)"}]),
    ])
    static = {"source-url": source_clone_url(cfg, app), "app-name": app.name, "image": app.image, "overlay-path": cfg.path_of(app),
              "context": app.build.context, "dockerfile": app.build.dockerfile,
              "canary": canary_of(cfg, app), "canary-timeout": str(canary_wait_seconds(app.canary) if app.canary else 0)}
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
