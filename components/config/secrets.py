"""The secrets a stack holds (`pulumi config set --secret`), as the components receive them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # reading a stack's config must not need the Pulumi SDK (the offline tools import it)
    import pulumi


@dataclass(frozen=True)
class PlatformSecrets:
    """Secrets from `pulumi config set --secret`; each is a secret Output, or None when not set."""

    git_token: pulumi.Output[str] | None = None
    registry_password: pulumi.Output[str] | None = None
    git_ssh_private_key: pulumi.Output[str] | None = None
    argocd_webhook_secret: pulumi.Output[str] | None = None
    tekton_webhook_secret: pulumi.Output[str] | None = None
    flux_webhook_token: pulumi.Output[str] | None = None
