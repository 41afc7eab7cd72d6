"""Run Tekton Pipelines the way a cluster would, on this machine: the step-script harness.

It takes the Task and Pipeline manifests exactly as the program emits them (from the mocked run) and
executes a PipelineRun: tasks in dependency order (`runAfter` and result references), `when` guards,
parameter, workspace, result and credential substitution as Tekton does it, each step's script run by
the interpreter its shebang names (alpine's busybox sh where installed), with the step's environment,
working directory and user (the securityContext's runAsUser, else the image's default user, when this
machine runs as root), against local fixtures.

What cannot run here is replaced, and says so in the run's log:
- remote tasks fetched by a resolver (the maintained git-clone task) by `stand_ins` keyed by task name,
  Python functions that do what the upstream task documents (clone with the real git as its user,
  write its results);
- steps whose tool is not installed here (the image builder, for instance) by a stand-in or a skip
  with the reason.

Tekton semantics mirrored (tektoncd/pipeline@v1.15.0 docs/pipelines.md, docs/variables.md):
- a task whose `when` is false is skipped, and only it: tasks after it still run unless they consume
  one of its results, in which case they are skipped too;
- a failed task fails the run; tasks that have not started are not run;
- `$(params.x)`, `$(tasks.t.results.r)`, `$(context.pipelineRun.name)` in pipeline task params and
  `when`; `$(params.x)`, `$(workspaces.w.path|bound)`, `$(results.r.path)`, `$(credentials.path)`,
  `$(context.taskRun.name)` inside a task.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUSYBOX = shutil.which("busybox")
# The python image's interpreter stand-in: a system python any user can run (the venv's may sit under
# a home directory a non-root step cannot enter).
PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.access(p, os.X_OK)), sys.executable)
VAR = re.compile(r"\$\(([^()]+)\)")

# The user an image runs as when the step sets none (from each image's Dockerfile `USER`): alpine/git,
# alpine and python run as root; curlimages/curl as curl_user (100); the maintained git-clone image as
# nonroot (65532).
IMAGE_USERS = {
    "docker.io/alpine/git": 0,
    "docker.io/library/alpine": 0,
    "docker.io/library/python": 0,
    "docker.io/curlimages/curl": 100,
    "quay.io/skopeo/stable": 0,
}


def image_repository(image: str) -> str:
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


@dataclass
class StepLog:
    task: str
    step: str
    returncode: int | None
    output: str
    note: str = ""        # why a step was stood in for or skipped


@dataclass
class TaskOutcome:
    name: str
    status: str                       # Succeeded, Failed, Skipped
    results: dict[str, str] = field(default_factory=dict)
    reason: str = ""


@dataclass
class RunOutcome:
    status: str
    tasks: dict[str, TaskOutcome]
    logs: list[StepLog]
    results: dict[str, str]

    def log_of(self, task: str) -> str:
        return "\n".join(f"[{s.task}/{s.step}] {s.note}\n{s.output}" for s in self.logs if s.task == task)

    @property
    def text(self) -> str:
        return "\n".join(f"[{s.task}/{s.step}] rc={s.returncode} {s.note}\n{s.output}" for s in self.logs)


@dataclass
class TaskContext:
    """What a stand-in for a remote task gets."""

    params: dict[str, str]
    workspaces: dict[str, Path]
    results_dir: Path
    env: dict[str, str]
    run_as: int | None
    log: Callable[[str], None]


class Harness:
    """Execute Pipelines from `objects` (rendered manifests) with local fixtures."""

    def __init__(self, objects: list[dict[str, Any]], work: Path, *,
                 secrets: dict[tuple[str, str], str] | None = None,
                 credentials: dict[str, str] | None = None,
                 stand_ins: dict[str, Callable[[TaskContext], int]] | None = None,
                 step_stand_ins: dict[str, Callable[[TaskContext, dict[str, Any]], int]] | None = None,
                 env: dict[str, str] | None = None,
                 fs_group: int | None = None,
                 as_users: bool = True,
                 task_defaults: dict[str, dict[str, str]] | None = None):
        self.tasks = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Task"}
        self.pipelines = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Pipeline"}
        self.work = Path(tempfile.mkdtemp(dir=work, prefix="run-"))
        self.work.chmod(0o755)
        self.secrets = secrets or {}                 # (secret name, key) -> value, for secretKeyRef env
        self.credentials = credentials or {}         # file name -> content, written to $(credentials.path)
        self.stand_ins = stand_ins or {}             # remote task name -> stand-in
        self.step_stand_ins = step_stand_ins or {}   # "task/step" -> stand-in for a step whose tool is missing
        self.base_env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), **(env or {})}
        self.fs_group = fs_group
        self.as_users = as_users and os.geteuid() == 0
        # Task param defaults as this test world has them (the Kubernetes API is not at kubernetes.default.svc
        # here, but at a stand-in on 127.0.0.1).
        self.task_defaults = task_defaults or {}
        self._counter = 0

    # ---------------------------------------------------------------- pipeline
    def run(self, pipeline: str, params: dict[str, str], workspaces: dict[str, Path | None],
            run_name: str = "app-ci-abcde") -> RunOutcome:
        spec = self.pipelines[pipeline]
        values = {p["name"]: p.get("default") for p in spec.get("params") or []}
        values.update(params)
        missing = [k for k, v in values.items() if v is None]
        assert not missing, f"PipelineRun of {pipeline} lacks required params {missing}"
        context = {"context.pipelineRun.name": run_name, "context.pipelineRun.namespace": "gitops-ci"}
        outcomes: dict[str, TaskOutcome] = {}
        logs: list[StepLog] = []
        order = self._order(spec["tasks"])
        failed = False
        for task in order:
            name = task["name"]
            if failed:
                outcomes[name] = TaskOutcome(name, "Skipped", reason="an earlier task failed")
                continue
            consumed = self._result_refs(task)
            missing_results = [f"{t}.{r}" for t, r in consumed
                               if outcomes.get(t) is None or r not in outcomes[t].results]
            if missing_results:
                outcomes[name] = TaskOutcome(name, "Skipped", reason=f"results not available: {missing_results}")
                continue
            subst = {**{f"params.{k}": v for k, v in values.items()}, **context,
                     **{f"tasks.{t}.results.{r}": v for t, o in outcomes.items() for r, v in o.results.items()}}
            if not self._when_true(task.get("when") or [], subst):
                outcomes[name] = TaskOutcome(name, "Skipped", reason="when expressions were false")
                continue
            task_params = {p["name"]: _substitute(p["value"], subst) for p in task.get("params") or []}
            bound = {}
            for binding in task.get("workspaces") or []:
                root = workspaces.get(binding["workspace"])
                bound[binding["name"]] = make_sub_path(root, binding["subPath"]) if root and binding.get("subPath") \
                    else root
            outcome = self._run_task(name, task["taskRef"], task_params, bound, logs, f"{run_name}-{name}")
            outcomes[name] = outcome
            failed = outcome.status == "Failed"
        results = {}
        if not failed:
            subst = {f"tasks.{t}.results.{r}": v for t, o in outcomes.items() for r, v in o.results.items()}
            for result in spec.get("results") or []:
                try:
                    results[result["name"]] = _substitute(result["value"], subst, strict=True)
                except KeyError:
                    pass  # a result of a skipped task: Tekton omits it too
        return RunOutcome("Failed" if failed else "Succeeded", outcomes, logs, results)

    def run_task(self, task: str, params: dict[str, str], workspaces: dict[str, Path | None]) -> RunOutcome:
        """One platform Task on its own (a TaskRun)."""
        logs: list[StepLog] = []
        outcome = self._run_task(task, {"name": task}, params, workspaces, logs, f"{task}-run")
        return RunOutcome(outcome.status, {task: outcome}, logs, outcome.results)

    @staticmethod
    def _result_refs(task: dict[str, Any]) -> list[tuple[str, str]]:
        found = []
        for text in _strings({k: task.get(k) for k in ("params", "when")}):
            found += re.findall(r"\$\(tasks\.([A-Za-z0-9_-]+)\.results\.([A-Za-z0-9_-]+)\)", text)
        return found

    def _order(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_name = {t["name"]: t for t in tasks}
        deps = {t["name"]: set(t.get("runAfter") or []) | {d for d, _ in self._result_refs(t)} for t in tasks}
        ordered, done = [], set()
        while len(ordered) < len(tasks):
            ready = [n for n in by_name if n not in done and deps[n] <= done]
            assert ready, f"cycle among {set(by_name) - done}"
            for n in ready:
                ordered.append(by_name[n])
                done.add(n)
        return ordered

    @staticmethod
    def _when_true(whens: list[dict[str, Any]], subst: dict[str, str]) -> bool:
        for when in whens:
            value = _substitute(when["input"], subst)
            values = [_substitute(v, subst) for v in when["values"]]
            if (value in values) != (when["operator"] == "in"):
                return False
        return True

    # ---------------------------------------------------------------- task
    def _run_task(self, name: str, ref: dict[str, Any], params: dict[str, Any], bound: dict[str, Path | None],
                  logs: list[StepLog], taskrun: str) -> TaskOutcome:
        results_dir = self._fresh_dir(f"results-{name}")
        if ref.get("resolver"):
            remote = _remote_task_name(ref)
            stand_in = self.stand_ins.get(remote)
            assert stand_in is not None, f"no stand-in for remote task {remote!r} ({ref})"
            lines: list[str] = []
            ctx = TaskContext(params={k: str(v) for k, v in params.items()}, workspaces={
                k: v for k, v in bound.items() if v is not None}, results_dir=results_dir,
                env=dict(self.base_env), run_as=None, log=lines.append)
            code = stand_in(ctx)
            logs.append(StepLog(name, remote, code, "\n".join(lines),
                                note=f"stand-in for the remote task {remote} (resolver {ref['resolver']})"))
            return self._finish(name, code, results_dir)
        spec = self.tasks[ref["name"]]
        values = {p["name"]: p.get("default") for p in spec.get("params") or []}
        values.update(self.task_defaults.get(ref["name"], {}))
        values.update(params)
        missing = [k for k, v in values.items() if v is None]
        assert not missing, f"task {name} lacks required params {missing}"
        creds = self._fresh_dir(f"creds-{name}")
        for file, content in self.credentials.items():
            path = creds / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        subst: dict[str, str] = {f"params.{k}": v for k, v in values.items() if isinstance(v, str)}
        for decl in spec.get("workspaces") or []:
            path = bound.get(decl["name"])
            assert path is not None or decl.get("optional"), f"task {name}: workspace {decl['name']} not bound"
            subst[f"workspaces.{decl['name']}.path"] = str(path) if path else ""
            subst[f"workspaces.{decl['name']}.bound"] = "true" if path else "false"
        for result in spec.get("results") or []:
            subst[f"results.{result['name']}.path"] = str(results_dir / result["name"])
        subst["credentials.path"] = str(creds)
        subst["context.taskRun.name"] = taskrun
        subst["context.taskRun.namespace"] = "gitops-ci"
        for step in spec["steps"]:
            code = self._run_step(name, step, subst, results_dir, bound, logs)
            if code != 0:
                return self._finish(name, code, results_dir)
        return self._finish(name, 0, results_dir)

    def _finish(self, name: str, code: int, results_dir: Path) -> TaskOutcome:
        results = {p.name: p.read_text() for p in results_dir.iterdir()} if code == 0 else {}
        return TaskOutcome(name, "Succeeded" if code == 0 else "Failed", results,
                           reason="" if code == 0 else f"a step exited {code}")

    def _run_step(self, task: str, step: dict[str, Any], subst: dict[str, str], results_dir: Path,
                  bound: dict[str, Path | None], logs: list[StepLog]) -> int:
        env = dict(self.base_env)
        for var in step.get("env") or []:
            if "value" in var:
                env[var["name"]] = _substitute(var["value"], subst)
            else:
                ref = var["valueFrom"]["secretKeyRef"]
                value = self.secrets.get((ref["name"], ref["key"]))
                if value is None and not ref.get("optional"):
                    logs.append(StepLog(task, step["name"], 1, "", note=f"secret {ref['name']}/{ref['key']} is "
                                        "not there: the pod would not start (CreateContainerConfigError)"))
                    return 1
                if value is not None:
                    env[var["name"]] = value
        image = _substitute(step["image"], subst)
        user = (step.get("securityContext") or {}).get("runAsUser")
        if user is None:
            user = IMAGE_USERS.get(image_repository(image))
        key = f"{task}/{step['name']}"
        if key in self.step_stand_ins:
            lines: list[str] = []
            ctx = TaskContext(params={k[7:]: v for k, v in subst.items() if k.startswith("params.")},
                              workspaces={k: v for k, v in bound.items() if v is not None},
                              results_dir=results_dir, env=env, run_as=user, log=lines.append)
            code = self.step_stand_ins[key](ctx, step)
            logs.append(StepLog(task, step["name"], code, "\n".join(lines),
                                note=f"stand-in: {image} cannot run on this machine"))
            return code
        if "script" not in step:
            logs.append(StepLog(task, step["name"], 1, "", note=f"no stand-in for the args-only step {key} ({image})"))
            return 1
        script = _substitute(step["script"], subst)
        path = self._fresh_dir(f"script-{task}-{step['name']}") / "script"
        path.write_text(script)
        path.chmod(0o755)
        first = script.splitlines()[0] if script else ""
        if first.startswith("#!") and "python" in first:
            argv = [PYTHON, str(path)]
        elif BUSYBOX:
            argv = [BUSYBOX, "sh", str(path)]   # alpine's /bin/sh is busybox ash
        else:
            argv = ["/bin/sh", str(path)]
        cwd = _substitute(step.get("workingDir") or "", subst) or str(self.work)
        kwargs: dict[str, Any] = {}
        if self.as_users and user not in (None, 0):
            kwargs = {"user": user, "group": user, "extra_groups": [self.fs_group] if self.fs_group else []}
            env.setdefault("HOME", "/")
            _open_for(path, results_dir)
        else:
            env.setdefault("HOME", str(self._fresh_dir(f"home-{task}-{step['name']}")))
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kwargs)
        logs.append(StepLog(task, step["name"], done.returncode, done.stdout + done.stderr,
                            note=f"{image} as uid {user if self.as_users else os.geteuid()}"))
        return done.returncode

    def _fresh_dir(self, prefix: str) -> Path:
        self._counter += 1
        path = self.work / f"{prefix}-{self._counter}"
        path.mkdir(parents=True)
        return path


def kubelet_fs_group(root: Path, gid: int) -> None:
    """What kubelet does to a volume when the pod sets securityContext.fsGroup (kubernetes
    pkg/volume/volume_linux.go SetVolumeOwnership): group-own everything by gid, add g+rw (and g+x and
    setgid on directories), so every container (which gets gid as a supplementary group) can write."""
    for path in [root, *root.rglob("*")]:
        os.chown(path, -1, gid, follow_symlinks=False)
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        extra = stat.S_IRGRP | stat.S_IWGRP | (stat.S_IXGRP | stat.S_ISGID if path.is_dir() else 0)
        path.chmod(stat.S_IMODE(mode) | extra)


def make_sub_path(root: Path, sub_path: str) -> Path:
    """A workspace subPath, created the way kubelet creates a missing one: with the volume root's mode
    (kubelet_pods.go makeMounts: "the sub path directory must have at least g+rwx when the pod
    specifies an fsGroup"), its group inherited through the root's setgid bit."""
    path = root / sub_path
    if not path.exists():
        path.mkdir(parents=True)
        path.chmod(stat.S_IMODE(root.stat().st_mode))
    return path


def block_storage_volume(path: Path) -> Path:
    """A fresh volume as block storage (an ext4 EBS volume) hands it to the pod: owned by root, 0755."""
    path.mkdir(parents=True)
    os.chown(path, 0, 0)
    path.chmod(0o755)
    return path


def _open_for(script: Path, results_dir: Path) -> None:
    """Let a non-root step read its script and write its results (Tekton's own dirs are world-writable)."""
    for path in (script.parent, results_dir):
        path.chmod(0o777)
    script.chmod(0o755)
    parent = script.parent.parent
    parent.chmod(parent.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)


def _remote_task_name(ref: dict[str, Any]) -> str:
    params = {p["name"]: p["value"] for p in ref.get("params") or []}
    if "name" in params:
        return params["name"]
    path = params.get("pathInRepo", "")
    return path.rsplit("/", 1)[-1].removesuffix(".yaml")


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _substitute(value: Any, subst: dict[str, str], strict: bool = False) -> Any:
    if isinstance(value, list):
        return [_substitute(v, subst, strict) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        key = match.group(1)
        if key in subst:
            return subst[key]
        if strict:
            raise KeyError(key)
        return match.group(0)  # left as Tekton leaves an unknown variable (and the reference checker catches it)
    return VAR.sub(replace, value)
