"""Typed models of the Tekton objects the platform emits.

Pipelines objects are `tekton.dev/v1` (Task, Pipeline, PipelineRun); Triggers objects are
`triggers.tekton.dev/v1beta1` (TriggerBinding, TriggerTemplate, EventListener). Field names follow the
upstream Go types exactly, including Triggers' lower-case `resourcetemplates`. Trigger bindings are
referenced by `ref` + `kind`, so the Go types' lower-case `apiversion` is never needed.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from components.models import CustomObject, K8sModel, ObjectMeta  # noqa: F401  (re-exported)

PIPELINES_API = "tekton.dev/v1"
TRIGGERS_API = "triggers.tekton.dev/v1beta1"


# ---------------------------------------------------------------- shared parts
class ParamSpec(K8sModel):
    """A declared parameter of a Task or Pipeline; no `default` means the caller must pass it."""

    name: str
    type: Literal["string", "array", "object"] | None = None
    description: str | None = None
    default: str | list[str] | None = None


class Param(K8sModel):
    """A parameter value passed to a Task, Pipeline or resolver."""

    name: str
    value: str | list[str] | dict[str, str]


class WorkspaceDeclaration(K8sModel):
    name: str
    description: str | None = None
    optional: bool | None = None
    read_only: bool | None = None
    mount_path: str | None = None


class TaskResult(K8sModel):
    name: str
    description: str | None = None
    type: Literal["string", "array", "object"] | None = None


class SecretKeySelector(K8sModel):
    name: str
    key: str
    optional: bool | None = None


class EnvVarSource(K8sModel):
    secret_key_ref: SecretKeySelector


class EnvVar(K8sModel):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


class StepSecurityContext(K8sModel):
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    allow_privilege_escalation: bool | None = None


class Step(K8sModel):
    name: str
    image: str
    script: str | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    env: list[EnvVar] | None = None
    security_context: StepSecurityContext | None = None


class TaskSpec(K8sModel):
    description: str | None = None
    params: list[ParamSpec] | None = None
    workspaces: list[WorkspaceDeclaration] | None = None
    results: list[TaskResult] | None = None
    steps: list[Step]


class Task(CustomObject):
    api_version: ClassVar[str] = PIPELINES_API
    kind: ClassVar[str] = "Task"
    spec: TaskSpec


# ---------------------------------------------------------------- pipelines
class TaskRef(K8sModel):
    """Either a Task in the pipeline's namespace (`name`) or a remote one (`resolver` + `params`)."""

    name: str | None = None
    resolver: Literal["git", "bundles", "hub", "cluster", "http"] | None = None
    params: list[Param] | None = None


class WhenExpression(K8sModel):
    input: str
    operator: Literal["in", "notin"]
    values: list[str]


class WorkspacePipelineTaskBinding(K8sModel):
    name: str
    workspace: str
    sub_path: str | None = None


class PipelineTask(K8sModel):
    name: str
    task_ref: TaskRef
    params: list[Param] | None = None
    workspaces: list[WorkspacePipelineTaskBinding] | None = None
    run_after: list[str] | None = None
    when: list[WhenExpression] | None = None
    retries: int | None = None
    timeout: str | None = None


class PipelineWorkspaceDeclaration(K8sModel):
    name: str
    description: str | None = None
    optional: bool | None = None


class PipelineResult(K8sModel):
    name: str
    description: str | None = None
    value: str


class PipelineSpec(K8sModel):
    description: str | None = None
    params: list[ParamSpec] | None = None
    workspaces: list[PipelineWorkspaceDeclaration] | None = None
    tasks: list[PipelineTask]
    results: list[PipelineResult] | None = None


class Pipeline(CustomObject):
    api_version: ClassVar[str] = PIPELINES_API
    kind: ClassVar[str] = "Pipeline"
    spec: PipelineSpec


# ---------------------------------------------------------------- pipeline runs
class PipelineRef(K8sModel):
    name: str


class ResourceRequests(K8sModel):
    requests: dict[str, str]


class ClaimSpec(K8sModel):
    access_modes: list[str]
    resources: ResourceRequests
    storage_class_name: str | None = None


class VolumeClaimTemplate(K8sModel):
    spec: ClaimSpec


class KeyToPath(K8sModel):
    key: str
    path: str


class SecretVolume(K8sModel):
    secret_name: str
    items: list[KeyToPath] | None = None


class ServiceAccountTokenProjection(K8sModel):
    path: str
    expiration_seconds: int | None = None
    audience: str | None = None


class ConfigMapProjection(K8sModel):
    name: str
    items: list[KeyToPath] | None = None


class VolumeProjection(K8sModel):
    service_account_token: ServiceAccountTokenProjection | None = None
    config_map: ConfigMapProjection | None = None


class ProjectedVolume(K8sModel):
    sources: list[VolumeProjection]


class WorkspaceBinding(K8sModel):
    name: str
    volume_claim_template: VolumeClaimTemplate | None = None
    secret: SecretVolume | None = None
    projected: ProjectedVolume | None = None


class PodSecurityContext(K8sModel):
    fs_group: int | None = None
    fs_group_change_policy: Literal["OnRootMismatch", "Always"] | None = None


class PodTemplate(K8sModel):
    security_context: PodSecurityContext | None = None


class TaskRunTemplate(K8sModel):
    service_account_name: str
    pod_template: PodTemplate | None = None


class PipelineTaskRunSpec(K8sModel):
    pipeline_task_name: str
    service_account_name: str | None = None
    pod_template: PodTemplate | None = None


class PipelineRunTimeouts(K8sModel):
    pipeline: str | None = None


class RunMeta(K8sModel):
    """PipelineRun metadata inside a TriggerTemplate: a generated name, never a fixed one."""

    generate_name: str
    namespace: str | None = None
    labels: dict[str, str] | None = None


class PipelineRunSpec(K8sModel):
    pipeline_ref: PipelineRef
    params: list[Param] | None = None
    workspaces: list[WorkspaceBinding] | None = None
    task_run_template: TaskRunTemplate | None = None
    task_run_specs: list[PipelineTaskRunSpec] | None = None
    timeouts: PipelineRunTimeouts | None = None


class PipelineRun(K8sModel):
    """A PipelineRun as a template (TriggerTemplate resource), so `metadata.generateName` not `name`."""

    api_version: Literal["tekton.dev/v1"] = PIPELINES_API
    kind: Literal["PipelineRun"] = "PipelineRun"
    metadata: RunMeta
    spec: PipelineRunSpec


# ---------------------------------------------------------------- triggers
class TriggerBindingSpec(K8sModel):
    params: list[Param]


class TriggerBinding(CustomObject):
    api_version: ClassVar[str] = TRIGGERS_API
    kind: ClassVar[str] = "TriggerBinding"
    spec: TriggerBindingSpec


class TriggerTemplateParam(K8sModel):
    name: str
    description: str | None = None
    default: str | None = None


class TriggerTemplateSpec(K8sModel):
    params: list[TriggerTemplateParam]
    resourcetemplates: list[PipelineRun]


class TriggerTemplate(CustomObject):
    api_version: ClassVar[str] = TRIGGERS_API
    kind: ClassVar[str] = "TriggerTemplate"
    spec: TriggerTemplateSpec


class InterceptorRef(K8sModel):
    name: str
    kind: Literal["ClusterInterceptor", "NamespacedInterceptor"] = "ClusterInterceptor"


class InterceptorParam(K8sModel):
    name: str
    value: Any


class Interceptor(K8sModel):
    ref: InterceptorRef
    params: list[InterceptorParam] | None = None


class EventListenerBinding(K8sModel):
    """A reference to a TriggerBinding (`ref` + `kind`) or an inline static parameter (`name` + `value`)."""

    ref: str | None = None
    kind: Literal["TriggerBinding", "ClusterTriggerBinding"] | None = None
    name: str | None = None
    value: str | None = None


class TemplateRef(K8sModel):
    ref: str


class EventListenerTrigger(K8sModel):
    name: str
    interceptors: list[Interceptor]
    bindings: list[EventListenerBinding]
    template: TemplateRef


class EventListenerSpec(K8sModel):
    service_account_name: str
    triggers: list[EventListenerTrigger]


class EventListener(CustomObject):
    api_version: ClassVar[str] = TRIGGERS_API
    kind: ClassVar[str] = "EventListener"
    spec: EventListenerSpec
