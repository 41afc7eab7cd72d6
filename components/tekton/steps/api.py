#!/usr/bin/env python3
"""The platform's API steps (python image, standard library only): tell Argo CD about a push, wait for
the deploy, open the release pull request. Each Task's script is this file plus one call at the end
(`notify_argocd()`, ...); every input comes from the environment, never from the script text.

JSON is built and read with `json`, so a title or message with quotes, newlines or control characters
can never break a request body.
"""
from __future__ import annotations

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


def wait_for_deploy() -> None:
    """Wait until the app's Application reports the pushed revision Synced and Healthy; fail the run
    with Argo CD's message when the sync fails or the app turns Degraded, or at the timeout."""
    app_name, revision = env("APPLICATION"), env("REVISION")
    deadline = time.monotonic() + int(env("TIMEOUT_SECONDS"))
    interval = float(env("INTERVAL_SECONDS", "5"))
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{env('ARGOCD_NAMESPACE')}/applications/{app_name}"
    why = "no status yet"
    while True:
        app = kube_get(path)
        if not app:
            why = f"Application {app_name} does not exist"
        else:
            state, why = application_state(app, revision)
            if state == "done":
                print(f"Argo CD: {app_name} {why}")
                return
            if state == "failed":
                fail(f"Argo CD could not deploy {revision} of {app_name}: {why}")
        if time.monotonic() >= deadline:
            fail(f"timed out after {env('TIMEOUT_SECONDS')}s waiting for Argo CD to deploy {revision} of {app_name}: {why}")
        print(f"waiting: {why}", flush=True)
        time.sleep(interval)


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
    if flavor == "gitea":
        headers = {"Authorization": f"token {token}", "Accept": "application/json"}
    else:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
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
