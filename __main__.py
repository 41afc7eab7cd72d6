"""gitops-platform: read the stack config, validate it, build the platform. Nothing else."""
import pulumi

from components.config import ConfigError, read_stack
from components.platform import GitOpsPlatform, PlatformArgs
from components.sizes import checked

try:
    config, secrets = read_stack()
    config = checked(config)   # no object the platform emits may outgrow the API server
except ConfigError as invalid:
    for line in invalid.lines:
        pulumi.log.error(line)
    raise pulumi.RunError(f"invalid stack config ({len(invalid.lines)} problem(s)); nothing was created") from None

platform = GitOpsPlatform("gitops", PlatformArgs(config=config, secrets=secrets))
for key, value in platform.outputs.items():
    pulumi.export(key, value)
