"""Run the real `__main__.py` under `pulumi.runtime.set_mocks`: no CLI, no cluster, no network.

The mocks stand in for the providers only: each resource's outputs are its inputs plus the few
values a real provider would compute (a kind kubeconfig, a generated password, the Argo CD admin
secret). Every registration is recorded with its parent, provider, dependencies, protect flag and its
inputs with Pulumi secrets still marked, so tests and the offline render can inspect exactly what
`pulumi up` would send to the engine.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools.stackfile import StackFileError, load_file

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "gitops-platform"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET = "[secret]"
# What a mock provider hands back for values only a real provider could compute.
FAKE_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n# mock kubeconfig\n"
FAKE_GENERATED = "mock-generated-secret-value"
FAKE_ADMIN_PASSWORD = "mock-initial-admin-password"


def _mask(value: Any) -> Any:
    """A secret's stand-in: `[secret]`, keeping the keys of a secret mapping (pulumi-kubernetes marks a
    Secret's whole `data`/`stringData` secret) so the masked object keeps its schema shape."""
    if isinstance(value, dict) and value.get(SECRET_SIG) is None:
        return {k: SECRET for k in value}
    return SECRET


def _unwrap(value: Any, secret_paths: list[str], path: str = "", reveal: bool = False) -> Any:
    """Replace Pulumi secret envelopes with `[secret]` (recording where) and unknowns with None.
    With `reveal`, secrets keep their real value (for tests that look for leaks)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            secret_paths.append(path)
            return _unwrap(value.get("value"), [], path, reveal) if reveal else _mask(value.get("value"))
        if value.get(SECRET_SIG) == "5cf8f73096256a8f31e491e813e4eb8e":  # resource reference
            return value.get("urn")
        if value.get(SECRET_SIG) == "d0e6a833031e9bbcd3f4e8bde6ca49a4":  # output value
            if value.get("secret"):
                secret_paths.append(path)
                if not reveal:
                    return _mask(value.get("value"))
            return _unwrap(value.get("value"), secret_paths, path, reveal)
        return {k: _unwrap(v, secret_paths, f"{path}.{k}" if path else k, reveal) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, secret_paths, f"{path}[{i}]", reveal) for i, v in enumerate(value)]
    if value == UNKNOWN:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Structs carry every number as a double
    return value


RESOURCE_REF = "5cf8f73096256a8f31e491e813e4eb8e"


def _has_resource_ref(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(SECRET_SIG) == RESOURCE_REF or any(_has_resource_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_resource_ref(v) for v in value)
    return False


def _refs_to_urns(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == RESOURCE_REF:
            return value.get("urn")
        return {k: _refs_to_urns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_refs_to_urns(v) for v in value]
    return value


@dataclass
class Registration:
    """One resource the program registered."""

    urn: str
    type: str
    name: str
    parent: str
    provider: str
    dependencies: list[str]
    protect: bool
    custom: bool
    inputs: dict[str, Any]            # secrets replaced by "[secret]"
    secret_paths: list[str]           # input paths that were Pulumi secrets
    raw_inputs: dict[str, Any] = field(repr=False, default_factory=dict)  # real values (tests only)

    @property
    def is_kubernetes_object(self) -> bool:
        return self.type.startswith("kubernetes:") and self.custom and "apiVersion" in self.inputs \
            and self.type not in ("kubernetes:helm.sh/v3:Release",) and not self.type.startswith("kubernetes:yaml")

    def manifest(self) -> dict[str, Any]:
        """The Kubernetes object exactly as it would be applied (secret values masked)."""
        body = {k: v for k, v in self.inputs.items() if v is not None}
        ordered = {"apiVersion": body.pop("apiVersion"), "kind": body.pop("kind")}
        if "metadata" in body:
            ordered["metadata"] = body.pop("metadata")
        ordered.update(body)
        return ordered


# The event loops the mock monitor makes for itself: it runs on the main loop's executor threads and
# calls asyncio's get_event_loop() there (pulumi/runtime/mocks.py), so each worker thread gets a loop of its
# own that nothing closes. close_event_loop() closes them.
THREAD_LOOPS: set[asyncio.AbstractEventLoop] = set()


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):
        response = self._register(request)
        try:
            THREAD_LOOPS.add(asyncio.get_event_loop())
        except RuntimeError:
            pass
        return response

    def _register(self, request):
        struct = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        if _has_resource_ref(struct):
            # The mock monitor would rehydrate resource references on its worker thread's event loop,
            # which the program's loop cannot await; the URN is all a mock provider needs.
            request.object.Clear()
            request.object.update(_refs_to_urns(struct))
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            secret_paths: list[str] = []
            inputs = _unwrap(struct, secret_paths)
            raw = _unwrap(struct, [], reveal=True) if secret_paths else inputs
            self.registrations.append(Registration(
                urn=response.urn, type=request.type, name=request.name, parent=request.parent,
                provider=request.provider, dependencies=list(request.dependencies), protect=request.protect,
                custom=request.custom, inputs=inputs, secret_paths=secret_paths, raw_inputs=raw))
        return response


class PlatformMocks(pulumi_mocks.Mocks):
    """Provider stand-ins: outputs = inputs, plus what only a real provider could know."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "command:local:Command":
            outputs["stdout"] = FAKE_KUBECONFIG
            outputs["stderr"] = ""
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = FAKE_GENERATED
            outputs["bcryptHash"] = "$2a$10$mock"
        elif args.typ == "eks:index:Cluster":
            outputs["kubeconfigJson"] = json.dumps(yaml.safe_load(FAKE_KUBECONFIG))
            outputs["kubeconfig"] = yaml.safe_load(FAKE_KUBECONFIG)
            outputs["oidcProviderArn"] = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.mock.amazonaws.com/id/MOCK"
            outputs["oidcIssuer"] = "oidc.eks.mock.amazonaws.com/id/MOCK"
        elif args.typ == "awsx:ec2:Vpc":
            # Not the inputs: its natGateways input (a setting) and output (the gateways) differ in type.
            outputs = {"vpcId": "vpc-0123456789abcdef0",
                       "privateSubnetIds": ["subnet-0000000000000000a", "subnet-0000000000000000b"],
                       "publicSubnetIds": ["subnet-0000000000000000c", "subnet-0000000000000000d"]}
        elif args.typ == "kubernetes:helm.sh/v3:Release":
            outputs["status"] = {"name": args.inputs.get("name") or args.name,
                                 "namespace": args.inputs.get("namespace", "default"), "status": "deployed"}
        elif args.typ == "kubernetes:core/v1:Secret" and args.resource_id:
            # A read of an existing Secret (the chart-generated Argo CD admin password).
            outputs.setdefault("data", {"password": base64.b64encode(FAKE_ADMIN_PASSWORD.encode()).decode()})
        resource_id = args.resource_id or f"{args.name}-id"
        return resource_id, outputs

    def __init__(self, calls: dict[str, dict] | None = None):
        # token -> result of an invoke (say `command:local:run`: what a command printed); {} otherwise.
        self.calls = calls or {}

    def call(self, args: pulumi_mocks.MockCallArgs):
        if args.token == "command:local:run":
            return {"command": args.args.get("command", ""), "stdout": "", "stderr": "",
                    **self.calls.get(args.token, {})}
        return dict(self.calls.get(args.token, {}))


@dataclass
class RunResult:
    resources: list[Registration]
    outputs: dict[str, Any]          # stack outputs, secrets as "[secret]"
    secret_outputs: set[str]
    raw_outputs: dict[str, Any] = field(repr=False)  # real values: never shown in a failure message
    errors: list[str] = field(default_factory=list)                # config/program errors logged with pulumi.log.error
    warnings: list[str] = field(default_factory=list)              # what pulumi.log.warn said

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def k8s_objects(self) -> list[Registration]:
        return [r for r in self.resources if r.is_kubernetes_object]

    def find(self, kind: str, name: str, namespace: str | None = None) -> Registration:
        for r in self.k8s_objects():
            meta = r.inputs.get("metadata") or {}
            if r.inputs.get("kind") == kind and meta.get("name") == name and \
                    (namespace is None or meta.get("namespace") == namespace):
                return r
        raise KeyError(f"no {kind} {namespace + '/' if namespace else ''}{name} was registered")

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.resources}


class _LogCollector(logging.Handler):
    """What the program logs with pulumi.log: errors (config problems) and warnings, as `pulumi up` shows them."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record):
        (self.lines if record.levelno >= logging.ERROR else self.warnings).append(record.getMessage())


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _stand_in(value: Any, name: str) -> Any:
    """A `secure:` leaf's stand-in (its plaintext is unknowable offline): a fixed string, itself secret."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return f"secure-value-of-{name}"
        return {k: _stand_in(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_in(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return value


def load_stack_file(stack: str, root: Path = ROOT) -> tuple[dict[str, Any], dict[str, Any]]:
    """(structured config, secrets) from Pulumi.<stack>.yaml, keys without the project prefix, read the way
    the Pulumi CLI reads it (tools/stackfile.py: duplicate keys, YAML 1.2 scalars, aliasing refused).

    A key holding an encrypted `secure:` value (at the top or nested) is a secret key, as the CLI marks it;
    the plaintext is unknowable offline, so each `secure:` leaf is a fixed stand-in, itself a secret.
    Raises StackFileError.
    """
    path = root / f"Pulumi.{stack}.yaml"
    document = load_file(path) or {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise StackFileError([f"{path.name}: must be a mapping with a `config:` mapping"])
    config, secrets = {}, {}
    for key, value in (document.get("config") or {}).items():
        namespace, _, name = str(key).partition(":")
        if namespace != PROJECT:
            continue
        if _has_secure(value):
            secrets[name] = _stand_in(value, name)
        else:
            config[name] = value
    return config, secrets


def run_program(stack: str, config: dict[str, Any], secrets: dict[str, str] | None = None,
                root: Path = ROOT, preview: bool = False, calls: dict[str, dict] | None = None) -> RunResult:
    """Run `root/__main__.py` for `stack` with `config` (unprefixed keys) and `secrets` under mocks."""
    secrets = secrets or {}
    settings.ROOT.set(None)
    monitor = RecordingMonitor(PlatformMocks(calls))
    collector = _LogCollector()
    logger = logging.getLogger(f"gitops-platform.mockrun.{id(monitor)}")
    logger.propagate = False
    logger.addHandler(collector)
    pulumi_mocks.set_mocks(PlatformMocks(calls), project=PROJECT, stack=stack, preview=preview, monitor=monitor,
                           logger=logger)
    all_config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    all_config.update({f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in secrets.items()})
    pulumi.runtime.set_all_config(all_config, [f"{PROJECT}:{k}" for k in secrets])
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()

    failure: BaseException | None = None
    saved_path = list(sys.path)
    sys.path.insert(0, str(root))
    previous_cwd = os.getcwd()
    os.chdir(root)
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(root / "__main__.py"), run_name="__main__")))
    except pulumi.RunError as err:
        failure = err
    finally:
        os.chdir(previous_cwd)
        sys.path[:] = saved_path

    stack_resource = settings.get_root_resource()
    exported = dict(getattr(stack_resource, "outputs", {}) or {})
    outputs, raw_outputs, secret_outputs = {}, {}, set()
    for key, value in exported.items():
        out = pulumi.Output.from_input(value)
        raw_outputs[key] = _sync_await(out.future(with_unknowns=True))
        if _sync_await(out.is_secret()):
            secret_outputs.add(key)
            outputs[key] = SECRET
        else:
            outputs[key] = raw_outputs[key]
    _drain()
    errors = list(collector.lines)
    if failure is not None and not errors:
        errors.append(str(failure))
    return RunResult(resources=monitor.registrations, outputs=outputs, secret_outputs=secret_outputs,
                     raw_outputs=raw_outputs, errors=errors, warnings=list(dict.fromkeys(collector.warnings)))


def _drain() -> None:
    """Let every task the program left on the event loop finish (an Output nobody awaited, a resource's
    outputs still resolving), and cancel what will not, so that none is destroyed pending at exit: the
    interpreter would print each as an asyncio traceback on stderr."""
    loop = asyncio.get_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if pending:
        _, still = loop.run_until_complete(asyncio.wait(pending, timeout=10))
        for task in still:
            task.cancel()
        if still:
            loop.run_until_complete(asyncio.gather(*still, return_exceptions=True))
    for task in pending:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: never "Task exception was never retrieved" at exit


def close_event_loop() -> None:
    """At the end of a process that ran the program (the render, the benchmark): close the loop cleanly."""
    loop = asyncio.get_event_loop()
    _drain()
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    for thread_loop in THREAD_LOOPS - {loop}:
        if not thread_loop.is_running() and not thread_loop.is_closed():
            thread_loop.close()
    THREAD_LOOPS.clear()
    loop.close()


def run_stack(stack: str, root: Path = ROOT) -> RunResult:
    config, secrets = load_stack_file(stack, root)
    return run_program(stack, config, secrets, root)
