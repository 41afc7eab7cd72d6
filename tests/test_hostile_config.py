"""Hostile config: a corpus of malformed stack files, each with the exact error line it must give,
and random structures thrown at the loader. Never a traceback, never a partial program."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, PlatformConfig, load_config
from tools.stackfile import load_file

CORPUS = sorted((Path(__file__).parent / "fixtures" / "malformed").glob("*.yaml"))


def expected_line(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <line>'"
    return first.removeprefix("# expect: ")


def load_case(path: Path) -> tuple[dict, str]:
    """(raw config, stack name) of a corpus file, read the way the render reads a stack file."""
    document = load_file(path)
    config = {k.partition(":")[2]: v for k, v in document["config"].items()}
    env = config.get("environment", "dev")
    return config, env if env in ("dev", "staging", "prod") else "dev"


def test_corpus_has_at_least_thirty_cases():
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_malformed_config_gives_its_exact_error_line(path):
    config, env = load_case(path)
    with pytest.raises(ConfigError) as caught:
        load_config(config, env)
    assert expected_line(path) in caught.value.lines, caught.value.lines


@pytest.mark.parametrize("path", CORPUS[::6], ids=[p.stem for p in CORPUS[::6]])
def test_malformed_config_creates_no_resource(run, path):
    config, _ = load_case(path)
    result = run(config, stack="dev")
    assert result.resources == []
    assert expected_line(path) in result.errors


VALID = {
    "configRepo": {"url": "https://github.com/org/gitops-config.git"},
    "apps": [{"name": "web", "image": "ghcr.io/org/web"}],
}
KEYS = ["environment", "cluster", "configRepo", "registry", "apps", "features", "versions", "argocd", "tekton",
        "imageUpdates", "flux", "flagger", "protect", "provider", "name", "namespace", "url", "kind", "eks",
        "canary", "imagePolicy", "semver", "stepWeight", "maxWeight", "path", "sync", "region", "workers"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["dev", "prod", "kind", "eks", "auto", "../x", "latest",
                                                            "https://github.com/o/r.git", "Book_Dev", ""]))
structures = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5)), max_leaves=25)


def _check(raw, stack="dev"):
    try:
        config = load_config(raw, stack)
    except ConfigError as err:
        assert err.lines and all(line.startswith("gitops-platform:") for line in err.lines), err.lines
        assert all("\n" not in line and "Traceback" not in line for line in err.lines)
    else:
        assert isinstance(config, PlatformConfig)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), structures, max_size=8))
def test_random_structures_give_a_model_or_error_lines(raw):
    _check(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["cluster", "configRepo", "registry", "apps", "features", "versions", "argocd", "tekton",
                        "imageUpdates", "flux", "flagger", "protect", "environment"]), structures)
def test_random_values_in_a_valid_config_give_a_model_or_error_lines(key, value):
    raw = copy.deepcopy(VALID)
    raw[key] = value
    _check(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 0), st.dictionaries(st.sampled_from(["name", "namespace", "path", "image", "sourceRepo",
                                                           "sync", "canary", "imagePolicy"]), structures, max_size=6))
def test_random_apps_give_a_model_or_error_lines(index, app):
    raw = copy.deepcopy(VALID)
    raw["apps"] = [{**raw["apps"][0], **app}]
    _check(raw)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(KEYS), structures, min_size=1, max_size=5))
def test_the_program_never_builds_part_of_a_platform_from_bad_config(run, raw):
    try:
        load_config(raw, "dev")
        return  # valid by chance: nothing to prove here
    except ConfigError:
        pass
    result = run(raw)
    assert result.resources == [] and result.errors


# ---------------------------------------------------------------- secrets in the wrong places
def test_a_secret_in_clear_text_is_refused_with_the_command_and_never_shown(run):
    raw = copy.deepcopy(VALID)
    raw["gitToken"] = "ghp_CLEAR_TEXT_0123456789"
    result = run(raw, secrets={})
    assert result.resources == []
    assert result.errors == ["gitops-platform:gitToken: is written in clear text in the stack file; remove it "
                             "(pulumi config rm gitToken) and set it as a secret: pulumi config set --secret gitToken "
                             "<value>"]
    assert "ghp_CLEAR_TEXT" not in "\n".join(result.errors)


def test_a_secret_given_as_a_mapping_is_refused(run):
    result = run(copy.deepcopy(VALID), secrets={"registryPassword": {"value": "hunter2-mapping"}})
    assert result.resources == []
    assert result.errors == ["gitops-platform:registryPassword: must be one secret string, not a dict (set it with "
                             "pulumi config set --secret registryPassword <value>, without --path)"]
    assert "hunter2" not in "\n".join(result.errors)


def test_a_secret_value_under_a_key_that_is_not_a_secret_is_never_echoed(run):
    result = run(copy.deepcopy(VALID), secrets={"tekton": {"gitToken": "ghp_MISPLACED_0123"}})
    assert result.resources == []
    assert result.errors[0].startswith("gitops-platform:tekton: holds a secret value, but 'tekton' is not a secret "
                                       "setting")
    assert "ghp_MISPLACED" not in "\n".join(result.errors)
    raw = copy.deepcopy(VALID)
    raw["tekton"] = {"token": "ghp_WRONG_SECTION_0123"}
    result = run(raw, secrets={})
    assert result.errors == ["gitops-platform:tekton.token: unknown key (check the spelling; see the config "
                             "reference in README.md)"]


def test_an_ssh_config_repo_needs_its_deploy_key(run):
    raw = copy.deepcopy(VALID)
    raw["configRepo"] = {"url": "git@github.com:org/gitops-config.git"}
    raw["tekton"] = {"sshKnownHosts": "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}
    raw["features"] = {"flux": False}
    result = run(raw, secrets={})
    assert result.resources == []
    assert result.errors == ["gitops-platform:gitSshPrivateKey: is required: configRepo.url is an ssh URL, and ssh "
                             "always needs a key (pulumi config set --secret gitSshPrivateKey < deploy_key)"]


def test_a_token_is_never_sent_over_plain_http_off_the_cluster(run):
    raw = copy.deepcopy(VALID)
    raw["configRepo"] = {"url": "http://git.example.com/org/gitops-config.git"}
    result = run(raw, secrets={"gitToken": "ghp_plain_http_0001"})
    assert result.errors == ["gitops-platform:configRepo.url: is plain http:// and gitToken is set: the token would "
                             "cross the network in clear; use https:// (plain http is only for a git server inside "
                             "the cluster)"]
    raw["configRepo"] = {"url": "http://gitea-http.gitea.svc.cluster.local:3000/gitops/config.git"}
    assert run(raw, secrets={"gitToken": "ghp_plain_http_0001"}).errors == []


def test_credentials_in_a_url_never_reach_the_error(run):
    raw = copy.deepcopy(VALID)
    raw["configRepo"] = {"url": "https://ci-bot:ghp_IN_THE_URL_0123@github.com/org/gitops-config.git"}
    raw["apps"][0]["sourceRepo"] = "https://ghp_AS_USER_0456@github.com/org/web.git"
    result = run(raw, secrets={})
    text = "\n".join(result.errors)
    assert "ghp_IN_THE_URL" not in text and "ghp_AS_USER" not in text and "ci-bot:" not in text
    assert len(result.errors) == 2 and all("has credentials in it" in line for line in result.errors)


def test_the_retired_argocd_token_is_refused_without_its_value(run):
    result = run(copy.deepcopy(VALID), secrets={"argocdToken": "KNOWN-argocd-api-token"})
    assert result.errors == ["gitops-platform:argocdToken: is no longer used: the pipeline tells Argo CD about a push "
                             "through its webhook and waits read-only, so no Argo CD token is needed; remove it "
                             "(pulumi config rm argocdToken)"]


# ---------------------------------------------------------------- sizes and multi-line text
def test_a_test_script_too_large_for_the_api_server_is_refused():
    raw = copy.deepcopy(VALID)
    raw["tekton"] = {"testScript": "echo x\n" * 20000}
    with pytest.raises(ConfigError) as caught:
        load_config(raw, "dev")
    assert caught.value.lines == ["gitops-platform:tekton.testScript: is 140000 bytes, over the 65536 this field may "
                                  "hold"]


def test_multi_line_fields_keep_newlines_but_no_other_control_character():
    raw = copy.deepcopy(VALID)
    raw["tekton"] = {"testScript": "set -eu\n\tmake test\n"}
    assert load_config(raw, "dev").tekton.test_script == "set -eu\n\tmake test\n"
    raw["tekton"] = {"testScript": "make test\x1b[31m\n"}
    with pytest.raises(ConfigError) as caught:
        load_config(raw, "dev")
    assert caught.value.lines == ["gitops-platform:tekton.testScript: contains the control character '\\x1b' (only "
                                  "newlines and tabs may appear here)"]


# ---------------------------------------------------------------- legal, and accepted
GITHUB_KEY = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


@pytest.mark.parametrize("patch", [
    lambda d: d.update(imageUpdates="flux", apps=[{"name": "web", "image": "ghcr.io/org/web",
                                                   "imagePolicy": {"pattern": r"^main-[a-f0-9]+-(?<ts>[0-9]+)$",
                                                                   "extract": "$ts"}}]),
    lambda d: d.update(imageUpdates="flux", apps=[{"name": "web", "image": "ghcr.io/org/web",
                                                   "imagePolicy": {"semver": "^1.2 || ~2.3.x"}}]),
    lambda d: d.update(argocd={"syncWindows": [{"schedule": "0 8 * * MON-FRI", "duration": "9h",
                                                "timezone": "Europe/Berlin"}]}),
    lambda d: d.update(apps=[{"name": "a" * 63, "namespace": "n" * 63, "image": "ghcr.io/org/a"}]),
    lambda d: d.update(configRepo={"url": "https://xn--gthub-vua.example/org/cfg.git", "revision": "release/2026.12"}),
    lambda d: d.update(tekton={"sshKnownHosts": f"# pinned\n{GITHUB_KEY}\n", "storage": "512Mi"}),
    lambda d: d.update(registry={"server": "registry.gitops-system.svc.cluster.local:5000", "insecure": True}),
    lambda d: d.update(versions={"imageGit": "mirror.internal:5000/alpine/git:v2.52.0@sha256:" + "0" * 64}),
], ids=["go named group (?<name>)", "semver or-range", "MON-FRI in a named zone", "63-character names",
        "punycode host and a branch with a slash", "known_hosts with a comment", "in-cluster plain-http registry",
        "mirror with a port"])
def test_tricky_but_legal_values_are_accepted(patch):
    raw = copy.deepcopy(VALID)
    patch(raw)
    assert isinstance(load_config(raw, "dev"), PlatformConfig)


def test_secure_secrets_are_accepted_and_used(run):
    result = run(copy.deepcopy(VALID), secrets={"gitToken": "ghp_secure_value_0001"})
    assert result.errors == [] and result.resources


# ---------------------------------------------------------------- one run, every problem
def test_every_independent_problem_is_reported_in_one_run():
    raw = copy.deepcopy(VALID)
    raw["cluster"] = {"kind": {"workers": "three"}}
    raw["argocd"] = {"syncWindows": [{"schedule": "0 8 * * 7", "duration": "1h"}]}
    raw["apps"] = [{"name": "web", "image": "ghcr.io/org/web"}, {"name": "web", "image": "ghcr.io/org/web2"},
                   {"name": "Bad", "image": "ghcr.io/org/bad"}]
    raw["tekton"] = {"namespace": "flux-system"}
    with pytest.raises(ConfigError) as caught:
        load_config(raw, "dev")
    keys = [line.split(": ", 1)[0] for line in caught.value.lines]
    assert keys == ["gitops-platform:cluster.kind.workers", "gitops-platform:apps[2].name",
                    "gitops-platform:argocd.syncWindows[0].schedule", "gitops-platform:apps[1].name",
                    "gitops-platform:tekton.namespace"], caught.value.lines


# ---------------------------------------------------------------- no coercion, whatever the value
@settings(max_examples=200, deadline=None)
@given(st.sampled_from([("cluster", "kind", "workers"), ("cluster", "kind", "argocdHostPort"),
                        ("cluster", "eks", "desiredNodes")]),
       st.one_of(st.booleans(), st.floats(), st.text(max_size=6), st.lists(st.integers(), max_size=2)))
def test_a_number_field_takes_only_whole_numbers(where, value):
    raw = copy.deepcopy(VALID)
    raw["cluster"] = {"provider": "kind", where[1]: {where[2]: value}}
    with pytest.raises(ConfigError) as caught:
        load_config(raw, "dev")
    key = f"gitops-platform:cluster.{where[1]}.{where[2]}: "
    assert any(line.startswith(key + "must be a whole number") or line.startswith(key + "contains the control")
               or "cluster.eks.region" in line for line in caught.value.lines), caught.value.lines


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12))
def test_a_control_character_anywhere_in_a_string_is_refused(text):
    bad = text + "\x00" if not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in text) else text
    for place in ("username", "revision"):
        raw = copy.deepcopy(VALID)
        raw["configRepo"] = {"url": "https://github.com/org/cfg.git", place: bad}
        with pytest.raises(ConfigError) as caught:
            load_config(raw, "dev")
        assert caught.value.lines[0].startswith(f"gitops-platform:configRepo.{place}: ")


# ---------------------------------------------------------------- tricky but legal
LEGAL = sorted((Path(__file__).parent / "fixtures" / "legal").glob("*.yaml"))


@pytest.mark.parametrize("path", LEGAL, ids=[p.stem for p in LEGAL])
def test_legal_config_renders_and_validates_strictly(run, path, tmp_path):
    from tests.conftest import validate
    config, env = load_case(path)
    secrets = {"gitToken": "t" * 20, "gitSshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n"}
    ssh = str(config.get("configRepo", {}).get("url", "")).startswith(("ssh://", "git@"))
    embedded = "configRepo" not in config
    result = run(config, stack=env, secrets={} if embedded else secrets if ssh else {"gitToken": "t" * 20})
    assert result.errors == [] and result.resources
    done = validate([r.manifest() for r in result.k8s_objects()], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name, secret", [("username-holding-password", "s3cr3t-hunter2"),
                                          ("ssh-url-with-password", "hunter2")])
def test_a_secret_in_a_config_value_is_refused_without_being_shown(name, secret):
    [path] = [p for p in CORPUS if p.stem.endswith(name)]
    config, env = load_case(path)
    with pytest.raises(ConfigError) as caught:
        load_config(config, env)
    assert caught.value.lines and not any(secret in line for line in caught.value.lines)


def test_a_large_stack_without_aliases_is_read_and_deep_nesting_is_a_keyed_error(tmp_path):
    from tools.stackfile import StackFileError, load_text
    apps = "".join(f"  - {{name: app{i}, image: ghcr.io/org/app{i}, sourceRepo: 'https://github.com/org/a{i}.git'}}\n"
                   for i in range(3000))
    document = load_text("config:\n  gitops-platform:apps:\n" + apps)
    assert len(document["config"]["gitops-platform:apps"]) == 3000
    windows = "".join(f"  - {{kind: allow, schedule: '0 {i % 24} * * *', duration: 1h}}\n" for i in range(5000))
    assert len(load_text("config:\n  w:\n" + windows)["config"]["w"]) == 5000
    # yaml.v3's rule: 200 aliases of a small mapping among 2000 other nodes are fine
    some = "d: &d {a: 1, b: 2}\nl:\n" + "  - *d\n" * 200 + "".join(f"  - {{x{i}: 1}}\n" for i in range(2000))
    assert len(load_text(some)["l"]) == 2200
    with pytest.raises(StackFileError) as caught:
        load_text("config:\n  x: " + "[" * 5000 + "]" * 5000 + "\n", "Pulumi.dev.yaml")
    assert caught.value.lines == ["Pulumi.dev.yaml: is nested more than 200 levels deep; a stack config never needs "
                                  "that (check the indentation or the brackets)"]


def test_merge_keys_merge_as_the_pulumi_cli_reads_them():
    from tools.stackfile import load_text
    document = load_text("base: &base {provider: kind, name: shared}\nconfig:\n"
                         "  gitops-platform:cluster:\n    <<: *base\n    name: gitops-dev\n")
    assert document["config"]["gitops-platform:cluster"] == {"provider": "kind", "name": "gitops-dev"}
