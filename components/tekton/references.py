"""Offline checks of the references inside Tekton objects, on their manifests (plain dicts).

Tekton resolves `$(params.x)`, `$(tasks.t.results.r)`, `$(workspaces.w.path)` and task references only
when a run starts; a typo would surface as a failed PipelineRun long after `pulumi up`. `problems()` finds
them before anything is applied: the platform calls it on what it is about to create, and the tests call
it on the rendered stacks.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from components.tekton.catalog import REMOTE_TASKS
from components.versions import image_is_pinned

PARAM = re.compile(r"\$\(params\.([A-Za-z0-9_.-]+?)\)")
PARAM_BRACKET = re.compile(r"\$\(params\[['\"]([^'\"]+)['\"]\]\)")
RESULT = re.compile(r"\$\(results\.([A-Za-z0-9_-]+)\.path\)")
TASK_RESULT = re.compile(r"\$\(tasks\.([A-Za-z0-9_-]+)\.results\.([A-Za-z0-9_-]+)\)")
WORKSPACE = re.compile(r"\$\(workspaces\.([A-Za-z0-9_-]+)\.(path|bound|claim|volume)\)")
TT_PARAM = re.compile(r"\$\(tt\.params\.([A-Za-z0-9_-]+)\)")
SHA = re.compile(r"^[0-9a-f]{40}$")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def params_used(value: Any) -> set[str]:
    found: set[str] = set()
    for text in strings(value):
        found |= set(PARAM.findall(text)) | set(PARAM_BRACKET.findall(text))
    return found


class Interface:
    """What a Task declares: params (name -> default or None), results, workspaces (name -> optional),
    and which params choose a step image."""

    def __init__(self, params: dict[str, Any], results: set[str], workspaces: dict[str, bool],
                 image_params: set[str] | None = None):
        self.params, self.results, self.workspaces = params, results, workspaces
        self.image_params = image_params or set()

    @classmethod
    def of_task(cls, spec: dict[str, Any]) -> Interface:
        image_params = set()
        for step in spec.get("steps") or []:
            image_params |= params_used(step.get("image", ""))
        return cls({p["name"]: p.get("default") for p in spec.get("params") or []},
                   {r["name"] for r in spec.get("results") or []},
                   {w["name"]: bool(w.get("optional")) for w in spec.get("workspaces") or []}, image_params)


def task_problems(name: str, spec: dict[str, Any]) -> list[str]:
    iface = Interface.of_task(spec)
    where = f"Task {name}"
    found = []
    body = {k: v for k, v in spec.items() if k not in ("params", "description")}
    for param in sorted(params_used(body) - set(iface.params)):
        found.append(f"{where}: $(params.{param}) is not a declared param")
    for text in strings(body):
        for result in RESULT.findall(text):
            if result not in iface.results:
                found.append(f"{where}: $(results.{result}.path) is not a declared result")
        for workspace, _ in WORKSPACE.findall(text):
            if workspace not in iface.workspaces:
                found.append(f"{where}: $(workspaces.{workspace}...) is not a declared workspace")
    for step in spec.get("steps") or []:
        image = step.get("image", "")
        used = params_used(image)
        if used:
            for param in used:
                default = iface.params.get(param)
                if not isinstance(default, str) or not image_is_pinned(default):
                    found.append(f"{where}: step {step.get('name')} image param {param} has no pinned default")
        elif not image_is_pinned(image):
            found.append(f"{where}: step {step.get('name')} image {image!r} is not pinned")
    return found


def resolve(task_ref: dict[str, Any], local: dict[str, Interface]) -> tuple[Interface | None, str]:
    """The interface a taskRef points at, or None and why not."""
    if task_ref.get("resolver"):
        if task_ref["resolver"] != "git":
            return None, f"resolver {task_ref['resolver']!r} is not the pinned git resolver"
        params = {p["name"]: p["value"] for p in task_ref.get("params") or []}
        if not SHA.fullmatch(str(params.get("revision", ""))):
            return None, f"git resolver revision {params.get('revision')!r} is not a 40-hex commit SHA"
        remote = REMOTE_TASKS.get(params.get("pathInRepo", ""))
        if remote is None:
            return None, f"git resolver pathInRepo {params.get('pathInRepo')!r} is not a known remote task"
        defaults = {param: ("" if has_default else None) for param, has_default in remote.params.items()}
        return Interface(defaults, set(remote.results), dict(remote.workspaces)), ""
    name = task_ref.get("name")
    if name not in local:
        return None, f"taskRef {name!r} names no Task defined by the platform"
    return local[name], ""


def pipeline_problems(name: str, spec: dict[str, Any], local: dict[str, Interface]) -> list[str]:
    where = f"Pipeline {name}"
    found = []
    declared = {p["name"]: p.get("default") for p in spec.get("params") or []}
    workspaces = {w["name"] for w in spec.get("workspaces") or []}
    tasks = {t["name"]: t for t in spec.get("tasks") or []}
    interfaces: dict[str, Interface] = {}
    for task_name, task in tasks.items():
        iface, why = resolve(task.get("taskRef") or {}, local)
        if iface is None:
            found.append(f"{where} task {task_name}: {why}")
            continue
        interfaces[task_name] = iface
    for task_name, task in tasks.items():
        at = f"{where} task {task_name}"
        iface = interfaces.get(task_name)
        passed = {p["name"]: p["value"] for p in task.get("params") or []}
        for after in task.get("runAfter") or []:
            if after not in tasks:
                found.append(f"{at}: runAfter {after!r} is not a task of the pipeline")
        if iface is not None:
            for param in passed:
                if param not in iface.params:
                    found.append(f"{at}: passes param {param!r} the task does not declare")
            for param, default in iface.params.items():
                if default is None and param not in passed:
                    found.append(f"{at}: required task param {param!r} is not passed")
            for param in iface.image_params & set(passed):
                value = passed[param]
                chosen = params_used(value)
                pinned = all(isinstance(declared.get(p), str) and image_is_pinned(declared[p]) for p in chosen) \
                    if chosen else isinstance(value, str) and image_is_pinned(value)
                if not pinned:
                    found.append(f"{at}: image param {param} = {value!r} is not pinned")
            bound = {w["name"] for w in task.get("workspaces") or []}
            for binding in task.get("workspaces") or []:
                if binding["name"] not in iface.workspaces:
                    found.append(f"{at}: binds workspace {binding['name']!r} the task does not declare")
                if binding.get("workspace") not in workspaces:
                    found.append(f"{at}: workspace {binding.get('workspace')!r} is not a pipeline workspace")
            for workspace, optional in iface.workspaces.items():
                if not optional and workspace not in bound:
                    found.append(f"{at}: required task workspace {workspace!r} is not bound")
        found += _expression_problems(at, {k: v for k, v in task.items() if k in ("params", "when")},
                                      declared, tasks, interfaces)
    for result in spec.get("results") or []:
        found += _expression_problems(f"{where} result {result['name']}", result.get("value"), declared, tasks,
                                      interfaces)
    return found


def _expression_problems(at: str, value: Any, declared: dict[str, Any], tasks: dict[str, Any],
                         interfaces: dict[str, Interface]) -> list[str]:
    found = [f"{at}: $(params.{p}) is not a pipeline param" for p in sorted(params_used(value) - set(declared))]
    for text in strings(value):
        for task_name, result in TASK_RESULT.findall(text):
            if task_name not in tasks:
                found.append(f"{at}: $(tasks.{task_name}.results.{result}) names no task of the pipeline")
            elif task_name in interfaces and result not in interfaces[task_name].results:
                found.append(f"{at}: task {task_name} declares no result {result!r}")
        for workspace, _ in WORKSPACE.findall(text):
            found.append(f"{at}: $(workspaces.{workspace}...) cannot be used in a pipeline")
    return found


def run_spec_problems(at: str, run_spec: dict[str, Any], pipeline: dict[str, Any]) -> list[str]:
    """A PipelineRun's taskRunSpecs must name tasks of its pipeline: Tekton refuses the whole run
    otherwise (pkg/reconciler/pipelinerun validateTaskRunSpecs: "does not exist in Pipeline")."""
    names = {t["name"] for t in (pipeline.get("tasks") or []) + (pipeline.get("finally") or [])}
    return [f"{at}: taskRunSpecs names {s['pipelineTaskName']!r}, which is not a task of the pipeline"
            for s in run_spec.get("taskRunSpecs") or [] if s.get("pipelineTaskName") not in names]


def trigger_problems(objects: list[dict[str, Any]], pipelines: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    templates = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "TriggerTemplate"}
    bindings = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "TriggerBinding"}
    for tname, spec in templates.items():
        at = f"TriggerTemplate {tname}"
        declared = {p["name"]: p.get("default") for p in spec.get("params") or []}
        for text in strings(spec.get("resourcetemplates")):
            for param in TT_PARAM.findall(text):
                if param not in declared:
                    found.append(f"{at}: $(tt.params.{param}) is not a template param")
        for run in spec.get("resourcetemplates") or []:
            if run.get("kind") != "PipelineRun":
                continue
            pipeline = pipelines.get(run["spec"]["pipelineRef"]["name"])
            if pipeline is None:
                found.append(f"{at}: PipelineRun refers to no Pipeline {run['spec']['pipelineRef']['name']!r}")
                continue
            pdeclared = {p["name"]: p.get("default") for p in pipeline.get("params") or []}
            passed = {p["name"] for p in run["spec"].get("params") or []}
            found += [f"{at}: passes param {p!r} the pipeline does not declare" for p in sorted(passed - set(pdeclared))]
            found += [f"{at}: required pipeline param {p!r} is not passed"
                      for p, d in pdeclared.items() if d is None and p not in passed]
            pws = {w["name"]: bool(w.get("optional")) for w in pipeline.get("workspaces") or []}
            bound = {w["name"] for w in run["spec"].get("workspaces") or []}
            found += [f"{at}: binds workspace {w!r} the pipeline does not declare" for w in sorted(bound - set(pws))]
            found += [f"{at}: required pipeline workspace {w!r} is not bound"
                      for w, optional in pws.items() if not optional and w not in bound]
            found += run_spec_problems(at, run["spec"], pipeline)
    for listener in (o for o in objects if o["kind"] == "EventListener"):
        for trigger in listener["spec"].get("triggers") or []:
            at = f"EventListener {listener['metadata']['name']} trigger {trigger['name']}"
            template = templates.get((trigger.get("template") or {}).get("ref"))
            if template is None:
                found.append(f"{at}: template {trigger.get('template')!r} is not a TriggerTemplate")
                continue
            supplied = set()
            for binding in trigger.get("bindings") or []:
                if binding.get("ref"):
                    if binding["ref"] not in bindings:
                        found.append(f"{at}: binding {binding['ref']!r} is not a TriggerBinding")
                        continue
                    supplied |= {p["name"] for p in bindings[binding["ref"]].get("params") or []}
                else:
                    supplied.add(binding["name"])
            tparams = {p["name"]: p.get("default") for p in template.get("params") or []}
            found += [f"{at}: template param {p!r} gets no value" for p, d in tparams.items()
                      if d is None and p not in supplied]
            found += [f"{at}: binds {p!r}, which the template does not declare" for p in sorted(supplied - set(tparams))]
    return found


def problems(objects: list[dict[str, Any]]) -> list[str]:
    """Every broken reference among these Tekton objects (manifests), as readable lines."""
    tekton = [o for o in objects if o.get("apiVersion", "").startswith(("tekton.dev/", "triggers.tekton.dev/"))]
    tasks = {o["metadata"]["name"]: o["spec"] for o in tekton if o["kind"] == "Task"}
    pipelines = {o["metadata"]["name"]: o["spec"] for o in tekton if o["kind"] == "Pipeline"}
    found = []
    for name, spec in tasks.items():
        found += task_problems(name, spec)
    local = {name: Interface.of_task(spec) for name, spec in tasks.items()}
    for name, spec in pipelines.items():
        found += pipeline_problems(name, spec, local)
    found += trigger_problems(tekton, pipelines)
    return found
