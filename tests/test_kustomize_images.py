"""The overlay editor the git steps use (components/tekton/steps/kustomize_images.awk), run by the real awk
the step image has (busybox awk, as in alpine/git) and by mawk/gawk where installed.

It must change only the lines of the one images entry it edits: Flux's `$imagepolicy` markers, other
comments, key order and quoting elsewhere stay byte for byte. What kustomize then renders from the
edited file is checked with `kustomize build` of the kustomize Argo CD runs (the toolchain's).
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.tekton.tasks import STEPS

AWK_FILE = STEPS / "kustomize_images.awk"
AWKS = [a for a in (["busybox", "awk"], ["mawk"], ["gawk"], ["original-awk"]) if shutil.which(a[0])]
if not AWKS:
    pytest.skip("no awk installed (apt-get install busybox)", allow_module_level=True)
IMAGE = "quay.io/org/web"
DIGEST = "sha256:" + "1" * 64


def edit(text: str, awk: list[str], op: str = "set", image: str = IMAGE, tag: str = "", digest: str = "",
         note: str = "") -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "KI_OP": op, "KI_IMAGE": image, "KI_TAG": tag, "KI_DIGEST": digest,
           "KI_NOTE": note}
    return subprocess.run([*awk, "-f", str(AWK_FILE)], input=text, capture_output=True, text=True, env=env)


@pytest.fixture(params=AWKS, ids=[a[0] for a in AWKS])
def awk(request):
    return request.param


FLUX = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# the dev overlay
resources:
  - ../../base
images:
  - name: quay.io/org/web # the app
    newName: quay.io/org/web # {"$imagepolicy": "flux-system:web-dev:name"}
    newTag: 1.2.3 # {"$imagepolicy": "flux-system:web-dev:tag"}
  - name: "redis"
    newTag: '7.2'
patches:
  - path: replicas.yaml
"""


def test_setting_a_tag_changes_that_value_and_keeps_every_marker_and_comment(awk):
    done = edit(FLUX, awk, tag="1.3.0")
    assert done.returncode == 0, done.stderr
    expected = FLUX.replace('newTag: 1.2.3 # {"$imagepolicy"', 'newTag: 1.3.0 # {"$imagepolicy"')
    assert done.stdout == expected


def test_setting_a_digest_adds_one_line_with_the_platforms_note(awk):
    done = edit(FLUX, awk, tag="abc1234", digest=DIGEST, note="source 0123 1700000000")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = lines.index('    newTag: abc1234 # {"$imagepolicy": "flux-system:web-dev:tag"}')
    assert lines[at + 1] == f"    digest: {DIGEST}  # gitops-platform: source 0123 1700000000"
    assert done.stdout.replace(lines[at + 1] + "\n", "").replace("abc1234", "1.2.3") == FLUX
    read = edit(done.stdout, awk, op="get")
    assert read.stdout == f"quay.io/org/web\tabc1234\t{DIGEST}\tsource 0123 1700000000\n"


def test_an_empty_digest_removes_a_stale_one_so_the_tag_decides(awk):
    pinned = edit(FLUX, awk, tag="1.2.3", digest=DIGEST).stdout
    done = edit(pinned, awk, tag="2.0.0")
    assert "digest:" not in done.stdout and "newTag: 2.0.0 #" in done.stdout


@pytest.mark.parametrize("text, expected", [
    ("resources: []\n", f"resources: []\nimages:\n- name: {IMAGE}\n  newTag: t\n  digest: {DIGEST}\n"),
    ("images: []\nresources: []\n", f"images:\n- name: {IMAGE}\n  newTag: t\n  digest: {DIGEST}\nresources: []\n"),
    ("images:\n- name: other\n  newTag: x\n# end\nresources: []\n",
     f"images:\n- name: other\n  newTag: x\n- name: {IMAGE}\n  newTag: t\n  digest: {DIGEST}\n# end\nresources: []\n"),
    ("images:\n  - name: other\n", f"images:\n  - name: other\n  - name: {IMAGE}\n    newTag: t\n    digest: {DIGEST}\n"),
], ids=["no images key", "empty flow list", "block list at column 0", "indented block list"])
def test_a_missing_entry_is_added_in_the_files_own_style(awk, text, expected):
    done = edit(text, awk, tag="t", digest=DIGEST)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    assert yaml.safe_load(done.stdout)["images"][-1] == {"name": IMAGE, "newTag": "t", "digest": DIGEST}


def test_an_entry_mapping_a_placeholder_name_to_the_image_is_the_one_edited(awk):
    text = "images:\n- name: app-image\n  newName: quay.io/org/web\n  newTag: old\n"
    done = edit(text, awk, tag="new")
    assert done.stdout == "images:\n- name: app-image\n  newName: quay.io/org/web\n  newTag: new\n"


@pytest.mark.parametrize("text, message", [
    ("images: [{name: quay.io/org/web, newTag: x}]\n", "flow style"),
    ("images: &imgs\n- name: quay.io/org/web\n", "flow style or with an anchor"),
    ("images:\n- name: quay.io/org/web\n- newName: quay.io/org/web\n", "more than one images entry"),
])
def test_shapes_it_cannot_edit_safely_are_refused_and_nothing_is_written(awk, text, message):
    done = edit(text, awk, tag="x")
    assert done.returncode == 4 and message in done.stderr and done.stdout == ""


def test_get_of_a_missing_entry_exits_3(awk):
    assert edit("resources: []\n", awk, op="get").returncode == 3


# ---------------------------------------------------------------- generated files
names = st.from_regex(r"[a-z][a-z0-9]{0,8}(/[a-z][a-z0-9]{0,8}){0,2}", fullmatch=True)
# Any tag the OCI grammar allows, including the ones a YAML reader would take for a number or a boolean
# (an all-digit short SHA, 1.0, NO): the editor quotes those.
values = st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True),
                   st.sampled_from(["1234567", "1.0", "1e5", "0x1f", "NO", "on", "null", "True", "1_000"]))
entry = st.fixed_dictionaries({"name": names}, optional={"newName": names, "newTag": values})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(others=st.lists(entry, max_size=4), target=st.one_of(st.none(), entry), indent=st.sampled_from([0, 2, 4]),
       comments=st.lists(st.sampled_from(["# a comment", "", "  # indented"]), max_size=3),
       tag=values, with_digest=st.booleans())
def test_any_kustomization_gets_exactly_the_edit_and_nothing_else(awk, others, target, indent, comments, tag,
                                                                  with_digest):
    others = [o for o in others if IMAGE not in (o["name"], o.get("newName"))]
    images = [*others, *([{**target, "name": IMAGE}] if target else [])]
    document = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                "resources": ["../../base"], **({"images": images} if images else {})}
    # PyYAML writes the list at column 0 under its key; indent it as many files do.
    lines, in_images = [], False
    for line in yaml.dump(document, sort_keys=False).splitlines():
        in_images = line.startswith("images:") or (in_images and line.startswith(("-", " ")))
        lines.append(" " * indent + line if in_images and not line.startswith("images:") else line)
    text = "\n".join(lines) + "\n"
    text += "\n".join(comments) + ("\n" if comments else "")
    assert yaml.safe_load(text) == document
    digest = DIGEST if with_digest else ""
    done = edit(text, awk, tag=tag, digest=digest, note="source abc 1" if digest else "")
    assert done.returncode == 0, done.stderr
    result = yaml.safe_load(done.stdout)
    edited = [i for i in result["images"] if IMAGE in (i["name"], i.get("newName"))]
    assert len(edited) == 1
    expected = {**(target or {}), "name": IMAGE, "newTag": tag}
    if digest:
        expected["digest"] = digest
    assert edited[0] == expected
    assert [i for i in result["images"] if i is not edited[0]] == others
    assert {k: v for k, v in result.items() if k != "images"} == {k: v for k, v in document.items() if k != "images"}
    for comment in comments:
        assert comment in done.stdout.splitlines()


# ---------------------------------------------------------------- what kustomize renders from it
def test_kustomize_renders_the_edited_overlay_with_tag_and_digest(tmp_path, awk, kustomize):
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text("resources:\n  - deployment.yaml\n")
    (base / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n"
        "  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n"
        "        - name: web\n          image: quay.io/org/web:placeholder\n")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(FLUX.replace("../../base", "../base").replace("  - path: replicas.yaml\n",
                                                                                           "  []\n").replace("patches:\n  []\n", ""))
    done = edit((overlay / "kustomization.yaml").read_text(), awk, tag="abc1234", digest=DIGEST, note="source x 1")
    (overlay / "kustomization.yaml").write_text(done.stdout)
    built = subprocess.run([kustomize, "build", str(overlay)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    container = yaml.safe_load(built.stdout)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"quay.io/org/web:abc1234@{DIGEST}"


# ---------------------------------------------------------------- why awk, and not `kustomize edit` or yq
# The decision (docs/tekton.md "The overlay editor"), measured with the pinned tools on the same overlay.
SPACED = FLUX.replace("  - ../../base\n", "  - ../../base   # the shared base\n")


def changed_lines(before: str, after: str) -> list[str]:
    import difflib
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_kustomize_edit_set_image_drops_the_flux_markers_so_the_platform_does_not_use_it(tmp_path, kustomize):
    (tmp_path / "kustomization.yaml").write_text(SPACED)
    done = subprocess.run([kustomize, "edit", "set", "image", f"{IMAGE}={IMAGE}:1.3.0"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = (tmp_path / "kustomization.yaml").read_text()
    # kustomize v5.8.1 re-marshals the whole Kustomization: the line comments, Flux's $imagepolicy markers
    # among them (image-automation-controller finds its setters by them), are gone; the other entries' quoting
    # and every list's indentation change.
    assert "$imagepolicy" not in after and "# the shared base" not in after and "# the app" not in after
    assert "  newTag: \"7.2\"\n" in after and "- name: redis\n" in after and "- ../../base\n" in after
    assert len(changed_lines(SPACED, after)) > 10


def test_yq_keeps_the_markers_but_rewrites_lines_it_was_not_asked_to_touch(tmp_path, yq):
    file = tmp_path / "kustomization.yaml"
    file.write_text(SPACED)
    done = subprocess.run([yq, "-i", f'(.images[] | select(.name == "{IMAGE}")).newTag = "1.3.0"', str(file)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = file.read_text()
    assert '{"$imagepolicy": "flux-system:web-dev:tag"}' in after
    # yq v4.54.3 re-emits the document: the untouched `../../base   # ...` line loses its spacing.
    assert "  - ../../base # the shared base" in after and "  - ../../base   # the shared base" not in after
    assert len(changed_lines(SPACED, after)) == 4


def test_the_awk_editor_changes_only_the_line_it_edits(awk):
    done = edit(SPACED, awk, tag="1.3.0")
    assert done.returncode == 0, done.stderr
    assert changed_lines(SPACED, done.stdout) == [
        '-    newTag: 1.2.3 # {"$imagepolicy": "flux-system:web-dev:tag"}',
        '+    newTag: 1.3.0 # {"$imagepolicy": "flux-system:web-dev:tag"}']
