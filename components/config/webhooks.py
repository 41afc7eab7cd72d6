"""`gitops-platform:webhooks`: how push events reach a cluster that the Git server cannot reach."""
from __future__ import annotations

from pydantic import field_validator

from components.config.base import Model
from components.urls import check_url


class Relay(Model):
    """A webhook relay channel (smee.io, or a gosmee server of your own): the Git server delivers to the
    channel, and a relay client in the cluster forwards each event to the Tekton EventListener."""

    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value, "(the relay channel, like https://smee.io/<channel>)", ("https",))


class WebhooksConfig(Model):
    relay: Relay | None = None
