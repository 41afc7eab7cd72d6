#!/usr/bin/env python3
"""The platform's API steps (python image, standard library only): tell Argo CD about a push, wait for
the deploy and the canary, gate a release, open the release pull request. Each Task's script is this file plus one call at the end
(`notify_argocd()`, ...); every input comes from the environment, never from the script text.

JSON is built and read with `json`, so a title or message with quotes, newlines or control characters
can never break a request body.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        fail(f"{name} is not set")
    return value


def fail(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    sys.exit(1)


def write_result(path_var: str, value: str) -> None:
    with open(env(path_var), "w") as out:
        out.write(value)


def request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            context: ssl.SSLContext | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """(status, body) of one HTTP request; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read()


def decode(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {"message": body.decode(errors="replace")[:2000]}
    return value if isinstance(value, dict) else {"items": value}


# ---------------------------------------------------------------- Argo CD: a signed push event
def web_url(repo_url: str) -> str:
    """The https URL a Git server reports as repository.html_url for a clone URL (https, ssh or
    git@host:path): what Argo CD compares, ignoring scheme, user, port, `.git` and case, with the
    Applications' repoURL (argo-cd util/webhook/webhook.go)."""
    if "://" in repo_url:
        parts = urllib.parse.urlsplit(repo_url)
        host, path = parts.hostname or "", parts.path
        if parts.port and parts.scheme in ("http", "https"):
            host = f"{host}:{parts.port}"
    else:
        host, _, path = repo_url.partition("@")[2].partition(":")
    path = "/" + path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    scheme = "http" if repo_url.startswith("http://") else "https"
    return f"{scheme}://{host}{path}"


def push_event(repo_url: str, branch: str, before: str, after: str, files: list[str]) -> dict:
    """A GitHub `push` event as Argo CD reads it: repository.html_url, ref, before/after, and the files
    each commit changed (which manifest-generate-paths compares with each Application's paths)."""
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "repository": {"html_url": web_url(repo_url), "clone_url": repo_url, "default_branch": branch},
        "commits": [{"id": after, "added": [], "modified": files, "removed": []}],
        "head_commit": {"id": after, "added": [], "modified": files, "removed": []},
    }


def signature(secret: str, body: bytes) -> str:
    """GitHub's X-Hub-Signature-256: sha256= and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def notify_argocd() -> None:
    """POST the push to argocd-server's /api/webhook, signed with the webhook secret Argo CD already
    trusts: Argo CD refreshes the Applications of that repo and path now instead of at its next poll.
    Needs no Argo CD account or token."""
    files = [f for f in env("FILES").splitlines() if f]
    body = json.dumps(push_event(env("REPO_URL"), env("BRANCH"), env("BEFORE"), env("AFTER"), files)).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push",
               "X-GitHub-Delivery": env("DELIVERY", "gitops-platform"),
               "X-Hub-Signature-256": signature(env("WEBHOOK_SECRET"), body),
               "User-Agent": "GitHub-Hookshot/gitops-platform"}
    # In-cluster, argocd-server serves plain HTTP when it sits behind TLS termination (server.insecure);
    # otherwise it has a self-signed certificate, which proves nothing here: the request carries no
    # secret (only its HMAC), so an impostor could learn nothing but a commit id.
    context = ssl._create_unverified_context() if env("WEBHOOK_URL").startswith("https://") else None
    last = ""
    for attempt in range(1, 6):
        try:
            status, answer = request("POST", env("WEBHOOK_URL"), body, headers, context=context, timeout=10)
        except OSError as err:  # not up yet, or restarting: try again
            last = f"{type(err).__name__}: {err}"
        else:
            if status == 200:
                print(f"Argo CD refreshes the Applications of {web_url(env('REPO_URL'))} for {files}")
                return
            if status not in (502, 503, 504):  # 400: wrong secret or payload; its message says which
                fail(f"Argo CD refused the push event ({status}): {answer.decode(errors='replace')[:500]}")
            last = f"HTTP {status}"
        time.sleep(attempt)
    fail(f"could not reach Argo CD at {env('WEBHOOK_URL')} ({last}); it finds the commit at its next poll")


# ---------------------------------------------------------------- waiting, read-only
def kube_get(path: str) -> dict:
    """GET from the Kubernetes API with the token projected into this task's kube-api workspace."""
    token_file = os.path.join(env("KUBE_API_DIR"), "token")
    context = ssl.create_default_context(cafile=os.path.join(env("KUBE_API_DIR"), "ca.crt"))
    with open(token_file) as f:
        token = f.read().strip()
    status, body = request("GET", env("KUBE_API") + path, headers={"Authorization": f"Bearer {token}",
                                                                    "Accept": "application/json"},
                           context=context)
    if status == 404:
        return {}
    if status != 200:
        fail(f"Kubernetes API answered {status} for {path}: {decode(body).get('message', '')}")
    return decode(body)


def application_state(app: dict, revision: str) -> tuple[str, str]:
    """('done'|'failed'|'waiting', why) for an Argo CD Application and the revision pushed.

    Done: Synced and Healthy at that revision (or it was deployed and is already superseded). Failed:
    the sync operation of that revision failed, or its resources are Degraded (for a Deployment, Argo
    CD reports Degraded once its progress deadline passed). Argo CD's own messages are returned."""
    status = app.get("status") or {}
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    operation = status.get("operationState") or {}
    at = (sync.get("revision") or "")
    op_revision = ((operation.get("syncResult") or {}).get("revision")) or ""
    history = [h.get("revision") for h in status.get("history") or []]
    if op_revision == revision and operation.get("phase") in ("Failed", "Error"):
        failed = [f"{r.get('kind')}/{r.get('name')}: {r.get('message')}"
                  for r in (operation.get("syncResult") or {}).get("resources") or []
                  if r.get("status") in ("SyncFailed",) or r.get("hookPhase") in ("Failed", "Error")]
        return "failed", "; ".join([operation.get("message") or "sync failed", *failed])
    if at == revision and health.get("status") == "Degraded":
        degraded = [f"{r.get('kind')}/{r.get('name')}: {(r.get('health') or {}).get('message', '')}"
                    for r in status.get("resources") or [] if (r.get("health") or {}).get("status") == "Degraded"]
        return "failed", "; ".join([health.get("message") or "the application is Degraded", *degraded])
    if sync.get("status") == "Synced" and health.get("status") == "Healthy":
        if at == revision:
            return "done", f"Synced and Healthy at {revision}"
        if revision in history:
            return "done", f"deployed {revision}, since superseded by {at}"
    conditions = "; ".join(f"{c.get('type')}: {c.get('message')}" for c in status.get("conditions") or [])
    return "waiting", (f"sync {sync.get('status')} at {at or '?'}, health {health.get('status')}"
                       + (f" ({health.get('message')})" if health.get("message") else "")
                       + (f"; {conditions}" if conditions else ""))


def wait_for_application(app_name: str, revision: str, timeout: int, interval: float) -> dict:
    """The Application once it reports `revision` Synced and Healthy; fails the run on a failed sync,
    a Degraded app or the timeout, with Argo CD's own messages."""
    deadline = time.monotonic() + timeout
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{env('ARGOCD_NAMESPACE')}/applications/{app_name}"
    why = "no status yet"
    while True:
        app = kube_get(path)
        if not app:
            why = f"Application {app_name} does not exist"
        else:
            state, why = application_state(app, revision)
            if state == "done":
                print(f"Argo CD: {app_name} {why}", flush=True)
                return app
            if state == "failed":
                fail(f"Argo CD could not deploy {revision} of {app_name}: {why}")
        if time.monotonic() >= deadline:
            fail(f"timed out after {timeout}s waiting for Argo CD to deploy {revision} of {app_name}: {why}")
        print(f"waiting: {why}", flush=True)
        time.sleep(interval)


# ---------------------------------------------------------------- Flagger canaries
def timestamp(value: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time as the API server writes it (2026-12-01T10:00:00Z)."""
    if not value:
        return None
    from datetime import datetime
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def runs_digest(deployment: dict, digest: str) -> bool:
    """True when a container of the Deployment's pod template runs the image with this digest."""
    containers = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    return any(str(c.get("image", "")).endswith("@" + digest) or str(c.get("image", "")).endswith(":" + digest)
               for c in containers)


def promoted_condition(canary: dict) -> dict:
    return next((c for c in (canary.get("status") or {}).get("conditions") or [] if c.get("type") == "Promoted"), {})


def canary_state(canary: dict, target: dict, primary: dict, digest: str, since: float) -> tuple[str, str]:
    """('done'|'failed'|'superseded'|'waiting', why) of a Flagger Canary for the image `digest`, which
    Argo CD applied to the target Deployment at `since` (Flagger v1.44.0, pkg/apis/flagger/v1beta1/
    status.go phases).

    Done: Succeeded (promoted after the analysis) or Initialized (the first version: Flagger copies it to
    the primary without an analysis), with the primary running that digest. Failed: the analysis failed
    after `since` while the target still runs that digest (a failure from an earlier version, before
    Flagger noticed the new one, is older than `since`). Superseded: the target runs another version
    now, so this one will never be promoted."""
    status = canary.get("status") or {}
    phase = status.get("phase") or "Unknown"
    promoted = promoted_condition(canary)
    if target and not runs_digest(target, digest):
        if primary and runs_digest(primary, digest):
            return "done", f"{digest} was promoted, and a newer version is being analysed now"
        return "superseded", f"the Deployment runs a newer version now; {digest} was never promoted"
    if phase in ("Succeeded", "Initialized") and primary and runs_digest(primary, digest):
        how = "promoted after its analysis" if phase == "Succeeded" else "initialised as the first version (no analysis)"
        return "done", f"{digest} {how}"
    changed = timestamp(status.get("lastTransitionTime"))
    if phase == "Failed" and changed is not None and changed >= since:
        return "failed", promoted.get("message") or "canary analysis failed"
    weight = status.get("canaryWeight")
    checks = status.get("failedChecks")
    return "waiting", (f"canary {phase}" + (f", weight {weight}%" if weight is not None else "")
                       + (f", {checks} failed checks" if checks else "")
                       + (f" ({promoted.get('message')})" if promoted.get("message") else ""))


def flagger_warnings(namespace: str, name: str, since: float) -> list[str]:
    """Flagger's Warning events for the Canary since `since`, oldest first (its reasons for a rollback:
    "Halt ... advancement request-success-rate 80.00 < 99", "Rolling back ... failed checks threshold
    reached 5")."""
    query = urllib.parse.urlencode({"fieldSelector": f"involvedObject.kind=Canary,involvedObject.name={name}"})
    events = (kube_get(f"/api/v1/namespaces/{namespace}/events?{query}") or {}).get("items") or []
    found = []
    for event in events:
        when = timestamp(event.get("lastTimestamp") or event.get("eventTime")
                         or (event.get("metadata") or {}).get("creationTimestamp"))
        if event.get("type") == "Warning" and (when is None or when >= since):
            found.append((when or 0, event.get("message") or ""))
    messages = list(dict.fromkeys(m for _, m in sorted(found, key=lambda e: e[0]) if m))
    return messages[-5:]


def read_canary(namespace: str, name: str) -> tuple[dict, dict, dict]:
    """(Canary, target Deployment, primary Deployment); empty dicts for what does not exist yet."""
    canary = kube_get(f"/apis/flagger.app/v1beta1/namespaces/{namespace}/canaries/{name}")
    target_name = ((canary.get("spec") or {}).get("targetRef") or {}).get("name") or name
    deployments = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    return canary, kube_get(f"{deployments}/{target_name}"), kube_get(f"{deployments}/{target_name}-primary")


def wait_for_canary(reference: str, digest: str, since: float, timeout: int, interval: float) -> None:
    """Wait until Flagger promotes `digest` (or rolls it back: fail the run with Flagger's reasons)."""
    namespace, _, name = reference.partition("/")
    deadline = time.monotonic() + timeout
    why = "no status yet"
    while True:
        canary, target, primary = read_canary(namespace, name)
        if not canary:
            why = f"Canary {reference} does not exist"
        else:
            state, why = canary_state(canary, target, primary, digest, since)
            if state == "done":
                print(f"Flagger: {reference} {why}", flush=True)
                return
            if state == "superseded":
                print(f"Flagger: {reference}: {why} (the newer version's run reports its canary)", flush=True)
                return
            if state == "failed":
                reasons = flagger_warnings(namespace, name, since)
                fail(f"Flagger rolled back {digest} of {reference}: {why}"
                     + ("".join(f"\n  {r}" for r in reasons) if reasons else ""))
        if time.monotonic() >= deadline:
            fail(f"timed out after {timeout}s waiting for Flagger to analyse {digest} of {reference}: {why}")
        print(f"waiting: {why}", flush=True)
        time.sleep(interval)


def sync_finished_at(app: dict, revision: str) -> float:
    """When Argo CD finished applying `revision` (its operation state), else now."""
    operation = (app.get("status") or {}).get("operationState") or {}
    if ((operation.get("syncResult") or {}).get("revision")) == revision:
        finished = timestamp(operation.get("finishedAt"))
        if finished is not None:
            return finished
    return time.time()


def wait_for_deploy() -> None:
    """Wait until the app's Application reports the pushed revision Synced and Healthy (fail the run with
    Argo CD's message when the sync fails or the app turns Degraded); then, for a canary app, until
    Flagger promotes the pushed image (fail with Flagger's reasons when it rolls back)."""
    interval = float(env("INTERVAL_SECONDS", "5"))
    revision = env("REVISION")
    app = wait_for_application(env("APPLICATION"), revision, int(env("TIMEOUT_SECONDS")), interval)
    reference = env("CANARY", "")
    if reference:
        wait_for_canary(reference, env("DIGEST"), sync_finished_at(app, revision),
                        int(env("CANARY_TIMEOUT_SECONDS")), interval)


def release_gate() -> None:
    """stage-release's gate, read-only: the source environment runs the version being released, and it
    passed there. A canary app: its Canary Succeeded with the primary running that image. Any other
    app: its Application is Synced and Healthy and Argo CD reports that image among the app's."""
    app_name, reference = env("APPLICATION"), env("REFERENCE")
    image = env("IMAGE")
    app = kube_get(f"/apis/argoproj.io/v1alpha1/namespaces/{env('ARGOCD_NAMESPACE')}/applications/{app_name}")
    if not app:
        fail(f"Application {app_name} does not exist in this cluster: run stage-release where its source "
             "environment runs")
    spec, status = app.get("spec") or {}, app.get("status") or {}
    path = ((spec.get("source") or {}).get("path") or "").strip("/")
    if path != env("SOURCE_OVERLAY").strip("/"):
        fail(f"Application {app_name} here deploys {path!r}, not the source overlay {env('SOURCE_OVERLAY')!r}: "
             "run stage-release in the cluster of the source environment")
    sync, health = (status.get("sync") or {}).get("status"), (status.get("health") or {}).get("status")
    # release-source's reference: "@sha256:..." (gitops-ci pins digests) or ":tag" (Flux's tags).
    wanted = image + reference
    digest = reference[1:] if reference.startswith("@") else None

    def runs(images: list[str]) -> bool:
        ours = [i for i in images if i.startswith((image + ":", image + "@"))]
        return any(i.endswith(reference) if digest else i.split("@")[0] == wanted for i in ours)

    canary_ref = env("CANARY", "")
    if canary_ref:
        namespace, _, name = canary_ref.partition("/")
        canary, _, primary = read_canary(namespace, name)
        phase = ((canary.get("status") or {}).get("phase")) or "missing"
        containers = (((primary.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        promoted = runs([str(c.get("image", "")) for c in containers])
        if phase != "Succeeded" or not promoted:
            fail(f"not releasing {wanted}: its canary {canary_ref} has not promoted it (phase {phase}; the primary "
                 f"{'runs' if promoted else 'does not run'} it). A version is released once its analysis succeeded"
                 + ("; the first version is initialised without an analysis: release the next one"
                    if phase == "Initialized" else ""))
        print(f"gate: {canary_ref} promoted {wanted} after its analysis")
        return
    images = (status.get("summary") or {}).get("images") or []
    deployed = runs(images)
    if sync != "Synced" or health != "Healthy" or not deployed:
        fail(f"not releasing {wanted}: Application {app_name} is {sync}/{health} and "
             f"{'runs' if deployed else 'does not run'} it (images: {', '.join(images) or 'none'})")
    print(f"gate: {app_name} is Synced and Healthy with {wanted}")


# ---------------------------------------------------------------- the release pull request
def open_pull_request() -> None:
    """Open the pull request that promotes a release, on GitHub or Gitea.

    GitHub answers 422 for every refused request: only "A pull request already exists" means the work
    is done (the existing PR is looked up and returned); "No commits between", an unknown base and
    every other refusal fail the run with GitHub's own message. Gitea answers 409 when a pull request
    for the same head and base exists."""
    api, repo, head, base = env("API_URL").rstrip("/"), env("REPOSITORY"), env("HEAD"), env("BASE")
    flavor = env("FLAVOR", "github")
    token = env("TOKEN")
    if env("AUTH", "token") == "basic":
        pair = f"{env('USERNAME')}:{token}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    else:
        authorization = f"token {token}" if flavor == "gitea" else f"Bearer {token}"
    if flavor == "gitea":
        headers = {"Authorization": authorization, "Accept": "application/json"}
    else:
        headers = {"Authorization": authorization, "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28"}
    headers["Content-Type"] = "application/json"
    body = json.dumps({"title": env("TITLE"), "head": head, "base": base, "body": env("BODY", "")}).encode()
    status, answer = request("POST", f"{api}/repos/{repo}/pulls", body, headers)
    data = decode(answer)
    if status == 201:
        url = data.get("html_url", "")
        print(f"opened {url}")
        write_result("RESULT_URL", url)
        return
    messages = [data.get("message", "")] + [e.get("message", "") if isinstance(e, dict) else str(e)
                                            for e in data.get("errors") or []]
    text = "; ".join(m for m in messages if m)
    exists = (flavor == "github" and status == 422 and "already exists" in text) or \
             (flavor == "gitea" and status == 409)
    if not exists:
        fail(f"{'Gitea' if flavor == 'gitea' else 'GitHub'} refused the pull request {head} -> {base} "
             f"({status}): {text or answer.decode(errors='replace')[:500]}")
    owner = repo.split("/", 1)[0]
    query = urllib.parse.urlencode({"state": "open", "head": f"{owner}:{head}", "base": base}) \
        if flavor == "github" else urllib.parse.urlencode({"state": "open"})
    status, answer = request("GET", f"{api}/repos/{repo}/pulls?{query}", headers=headers)
    pulls = json.loads(answer or b"[]") if status == 200 else []
    match = [p for p in pulls if isinstance(p, dict) and (p.get("head") or {}).get("ref") == head
             and (p.get("base") or {}).get("ref") == base]
    url = match[0].get("html_url", "") if match else ""
    print(f"a pull request for {head} -> {base} is already open{': ' + url if url else ''}")
    write_result("RESULT_URL", url)
