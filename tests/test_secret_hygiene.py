"""Secret hygiene: known secret values never appear in the render, in a non-secret stack output, or in
any resource input that is not a Pulumi secret."""
from __future__ import annotations

import json

import pytest

from tools.mockrun import FAKE_ADMIN_PASSWORD, FAKE_GENERATED, FAKE_KUBECONFIG
from tools.render import manifests, to_yaml

KNOWN = {
    "gitToken": "ghp_KNOWN_git_token_0001",
    "registryPassword": "KNOWN-registry-password-0002",
    "argocdWebhookSecret": "KNOWN-argocd-webhook-0003",
    "tektonWebhookSecret": "KNOWN-tekton-webhook-0004",
    "fluxWebhookToken": "KNOWN-flux-webhook-0005",
}
# Values only a provider knows (kubeconfig, generated passwords, the admin password) count as secrets too.
PROVIDER_SECRETS = {"kubeconfig": FAKE_KUBECONFIG.strip().splitlines()[-1], "generated": FAKE_GENERATED,
                    "adminPassword": FAKE_ADMIN_PASSWORD}
ALL_SECRETS = {**KNOWN, **PROVIDER_SECRETS}


def everything_on(base_config):
    config = dict(base_config)
    config["imageUpdates"] = "flux"
    config["apps"] = [dict(app, imagePolicy={"semver": ">=1.0.0"}, canary={"enabled": True})
                      for app in base_config["apps"]]
    return config


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _leaks(value, secrets: dict[str, str]) -> list[str]:
    """Names (never values: they would end up in a failure message) of the secrets found in `value`."""
    return sorted({name for text in _strings(value) for name, secret in secrets.items() if secret in text})


@pytest.fixture(params=["dev", "prod"])
def result(request, run, base_config):
    secrets = dict(KNOWN)
    if request.param == "prod":
        base_config["cluster"] = {"provider": "eks", "eks": {"region": "us-west-2"}}
    return run(everything_on(base_config), stack=request.param, secrets=secrets)


def test_no_known_secret_in_the_render(result):
    assert result.errors == []
    leaked = _leaks(to_yaml(manifests(result)), ALL_SECRETS)
    assert not leaked, f"secret values of {leaked} appear in the render"


def test_no_known_secret_in_a_non_secret_output(result):
    plain = {k: v for k, v in result.raw_outputs.items() if k not in result.secret_outputs}
    leaked = _leaks(plain, ALL_SECRETS)
    assert not leaked, f"a non-secret stack output carries the secret values of {leaked}"
    for key, value in result.outputs.items():
        if key in result.secret_outputs:
            assert value == "[secret]"


def test_no_known_secret_in_a_non_secret_resource_input(result):
    offenders = []
    for reg in result.resources:
        # `inputs` has every Pulumi secret masked: any known value left in it was passed in plain text.
        leaked = _leaks(reg.inputs, ALL_SECRETS)
        if leaked:
            offenders.append(f"{reg.type} {reg.name}: {leaked}")
    assert not offenders, f"plain-text secret inputs in: {offenders}"


def test_secrets_that_are_used_are_marked_secret_where_they_are_used(result):
    used = [reg for reg in result.resources if _leaks(reg.raw_inputs, KNOWN)]
    assert used, "the known secrets reach no resource at all; the test would prove nothing"
    for reg in used:
        assert reg.secret_paths, f"{reg.type} {reg.name} uses a secret but marks no input secret"


def test_the_stack_file_secure_values_never_appear(stack_result):
    stack, result = stack_result
    text = to_yaml(manifests(result)) + json.dumps(
        {k: v for k, v in result.raw_outputs.items() if k not in result.secret_outputs}, default=str)
    assert "secure-value-of-" not in text


def test_the_registry_pull_secret_is_in_every_app_namespace_and_stays_secret(run, base_config, secrets,
                                                                              validate_docs):
    from tools.render import manifests
    base_config["registry"]["pullSecret"] = True
    result = run(base_config)
    assert result.errors == []
    pulls = [r for r in result.k8s_objects() if r.inputs["kind"] == "Secret"
             and r.inputs["metadata"]["name"] == "registry-pull"]
    assert sorted(p.inputs["metadata"]["namespace"] for p in pulls) == ["book-dev", "web-dev"]
    for pull in pulls:
        assert pull.inputs["type"] == "kubernetes.io/dockerconfigjson"
        assert any(path.startswith("stringData") for path in pull.secret_paths)
        config = json.loads(pull.raw_inputs["stringData"][".dockerconfigjson"])
        assert config["auths"]["https://quay.io"]["password"] == secrets["registryPassword"]
        assert secrets["registryPassword"] not in json.dumps(pull.inputs)
    assert result.outputs["registryPullSecret"] == "registry-pull"
    validate_docs([d for d in manifests(result) if d["kind"] == "Secret"])


def test_the_registry_pull_secret_needs_its_user_and_password(run, base_config, secrets):
    base_config["registry"]["pullSecret"] = True
    no_password = run(base_config, secrets={k: v for k, v in secrets.items() if k != "registryPassword"})
    assert [e for e in no_password.errors if e.startswith("gitops-platform:registryPassword: is required")]
    del base_config["registry"]["username"]
    no_user = run(base_config)
    assert [e for e in no_user.errors if e.startswith("gitops-platform:registry.pullSecret: needs registry.username")]
