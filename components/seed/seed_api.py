#!/usr/bin/env python3
"""Seed the embedded Git server, step 1 (python image, standard library only): wait for Gitea and the
webhook receivers, create the repos that do not exist yet, and make each repo's push webhook point at its
receiver with the current secret. Idempotent: run again it creates nothing and only re-sets the hooks'
secrets. Every input comes from the environment.

Gitea API (go-gitea/gitea routers/api/v1): POST /user/repos (201; 409 when it exists), GET and POST
/repos/{owner}/{repo}/hooks, PATCH /repos/{owner}/{repo}/hooks/{id}; a hook is `active` only when asked.
"""
from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request


def env(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        sys.exit(f"{name} is not set")
    return value


def call(method: str, url: str, body: dict | None = None, auth: bool = True) -> tuple[int, object]:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if auth:
        pair = f"{env('GIT_USER')}:{env('GIT_PASSWORD')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw.strip() else None
    except urllib.error.HTTPError as answer:
        raw = answer.read()
        try:
            return answer.code, json.loads(raw)
        except ValueError:
            return answer.code, raw.decode(errors="replace")[:500]


def wait_for(url: str, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            status, _ = call("GET", url, auth=False)
            if status == 200:
                print(f"{what} is up", flush=True)
                return
            last = f"HTTP {status}"
        except (urllib.error.URLError, OSError) as err:
            last = str(err)
        time.sleep(float(os.environ.get("POLL_SECONDS", "3")))
    sys.exit(f"{what} did not come up within {timeout:.0f}s ({last})")


def ensure_repo(api: str, owner: str, name: str) -> None:
    status, _ = call("GET", f"{api}/repos/{owner}/{name}")
    if status == 200:
        print(f"{owner}/{name} exists", flush=True)
        return
    status, answer = call("POST", f"{api}/user/repos", {"name": name, "private": False, "auto_init": False,
                                                        "default_branch": "main"})
    if status not in (201, 409):
        sys.exit(f"could not create {owner}/{name} ({status}): {answer}")
    print(f"created {owner}/{name}" if status == 201 else f"{owner}/{name} exists", flush=True)


def ensure_hook(api: str, owner: str, name: str, url: str, secret: str) -> None:
    config = {"url": url, "content_type": "json", "secret": secret}
    status, hooks = call("GET", f"{api}/repos/{owner}/{name}/hooks")
    if status != 200:
        sys.exit(f"could not list the hooks of {owner}/{name} ({status}): {hooks}")
    same = [h for h in hooks if (h.get("config") or {}).get("url") == url]
    if same:
        # The secret is never shown back: set it again, so a rotated secret reaches the hook.
        status, answer = call("PATCH", f"{api}/repos/{owner}/{name}/hooks/{same[0]['id']}",
                              {"config": config, "events": ["push"], "active": True})
        if status != 200:
            sys.exit(f"could not update the hook of {owner}/{name} ({status}): {answer}")
        print(f"{owner}/{name}: push hook to {url} kept (secret re-set)", flush=True)
        return
    status, answer = call("POST", f"{api}/repos/{owner}/{name}/hooks",
                          {"type": "gitea", "config": config, "events": ["push"], "active": True})
    if status != 201:
        sys.exit(f"could not add the push hook of {owner}/{name} ({status}): {answer}")
    print(f"{owner}/{name}: push hook to {url}", flush=True)


def main() -> None:
    base = env("GIT_BASE").rstrip("/")
    api, owner = f"{base}/api/v1", env("GIT_USER")
    timeout = float(os.environ.get("WAIT_SECONDS", "600"))
    wait_for(f"{api}/version", "the Git server", timeout)
    # A delivery to a receiver that is not up yet would be lost: Gitea does not retry.
    for url in json.loads(env("WAIT_FOR")):
        wait_for(url, url, timeout)
    for name in env("REPOS").split():
        ensure_repo(api, owner, name)
    for hook in json.loads(env("HOOKS")):
        ensure_hook(api, owner, hook["repo"], hook["url"], env(hook["secretEnv"]))


if __name__ == "__main__":
    main()
