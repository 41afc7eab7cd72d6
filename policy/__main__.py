"""The gitops-platform policy pack: `pulumi preview --policy-pack policy`.

Every policy is mandatory: a violation fails the preview (and `pulumi up`). The policies themselves live
in `gitops_policies.py` so tests import and run exactly the functions the pack runs.
"""
from gitops_policies import POLICIES, install_secret_markers
from pulumi_policy import EnforcementLevel, PolicyPack

# Before the pack starts serving: lets the secrets policy see which values are Pulumi secrets.
install_secret_markers()

PolicyPack(
    name="gitops-platform-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
    description="Guardrails of the gitops-platform: manual prod sync with sync windows, pinned images, "
                "charts and release manifests, no cluster-admin, no CI bot API token, secrets only from "
                "Pulumi secrets.",
)
