"""Tekton Triggers, as the EventListener evaluates a webhook, on this machine.

`pipeline_runs(objects, headers, body, secrets)` takes the EventListener, TriggerBindings and
TriggerTemplates exactly as the program emits them and a webhook delivery, and returns the PipelineRuns
the listener would create: for each trigger, the `github` interceptor (event type and the
X-Hub-Signature-256 HMAC, tektoncd/triggers@v0.37.0 pkg/interceptors/github), the `cel` interceptor
(filter and overlays, evaluated by cel-python with the cel-go string extensions Tekton enables:
lowerAscii, substring), the bindings (`$(body.a.b)`, `$(extensions.x)`, static name/value) and the
template's `$(tt.params.x)`.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from typing import Any

try:
    import celpy
    from celpy import celtypes
except ImportError:  # pragma: no cover - the tests skip
    celpy = None

TT = re.compile(r"\$\(tt\.params\.([A-Za-z0-9_-]+)\)")
BODY = re.compile(r"\$\((body|extensions)\.([A-Za-z0-9_.-]+)\)")


def _functions():
    # cel-go's lowerAscii (ext/strings.go) lowers A-Z only; Python's str.lower() would also lower Ø or İ.
    return {"lowerAscii": lambda s: celtypes.StringType("".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c
                                                                for c in str(s))),
            "substring": lambda s, start, end=None: celtypes.StringType(
                str(s)[int(start):] if end is None else str(s)[int(start):int(end)])}


def cel(expression: str, body: Any, extensions: dict[str, Any] | None = None) -> Any:
    env = celpy.Environment()
    program = env.program(env.compile(expression), functions=_functions())
    activation = {"body": celpy.json_to_cel(body), "extensions": celpy.json_to_cel(extensions or {})}
    return program.evaluate(activation)


def _lookup(root: Any, dotted: str) -> Any:
    value = root
    for part in dotted.split("."):
        value = value[part]
    return value


def _github(params: dict[str, Any], headers: dict[str, str], raw: bytes, secrets: dict[tuple[str, str], str]) -> bool:
    event = headers.get("x-github-event", "")
    if params.get("eventTypes") and event not in params["eventTypes"]:
        return False
    ref = params.get("secretRef")
    if ref:
        secret = secrets[(ref["secretName"], ref["secretKey"])]
        given = headers.get("x-hub-signature-256", "")
        expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            return False
    return True


def _bind(trigger: dict[str, Any], bindings: dict[str, Any], body: Any, extensions: dict[str, Any]) -> dict[str, str]:
    """The trigger's params: TriggerBinding `$(body.a.b)` / `$(extensions.x)` values and static ones."""
    values: dict[str, str] = {}

    def value(match: re.Match) -> str:
        return str(_lookup(body if match.group(1) == "body" else extensions, match.group(2)))
    for binding in trigger["bindings"]:
        if binding.get("ref"):
            for param in bindings[binding["ref"]]["params"]:
                values[param["name"]] = BODY.sub(value, param["value"])
        else:
            values[binding["name"]] = binding["value"]
    return values


def pipeline_runs(objects: list[dict[str, Any]], headers: dict[str, str], raw: bytes,
                  secrets: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    headers = {k.lower(): v for k, v in headers.items()}
    body = json.loads(raw)
    bindings = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "TriggerBinding"}
    templates = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "TriggerTemplate"}
    runs = []
    for listener in (o for o in objects if o["kind"] == "EventListener"):
        for trigger in listener["spec"]["triggers"]:
            extensions: dict[str, Any] = {}
            accepted = True
            for interceptor in trigger.get("interceptors") or []:
                params = {p["name"]: p["value"] for p in interceptor.get("params") or []}
                kind = interceptor["ref"]["name"]
                if kind == "github":
                    accepted = _github(params, headers, raw, secrets)
                elif kind == "cel":
                    if "filter" in params and not bool(cel(params["filter"], body, extensions)):
                        accepted = False
                    for overlay in params.get("overlays") or []:
                        extensions[overlay["key"]] = str(cel(overlay["expression"], body, extensions))
                else:
                    raise AssertionError(f"no emulation of interceptor {kind}")
                if not accepted:
                    break
            if not accepted:
                continue
            values = _bind(trigger, bindings, body, extensions)
            template = templates[trigger["template"]["ref"]]
            for param in template["params"]:
                values.setdefault(param["name"], param.get("default"))
            for resource in template["resourcetemplates"]:
                text = TT.sub(lambda m, v=values: json.dumps(v[m.group(1)])[1:-1], json.dumps(resource))
                runs.append({"trigger": trigger["name"], **copy.deepcopy(json.loads(text))})
    return runs
