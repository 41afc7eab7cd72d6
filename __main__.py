"""gitops-platform: read the stack config, validate it, build the platform. Nothing else."""
import pulumi

from components.config import ConfigError, read_stack_config, read_stack_secrets
from components.platform import GitOpsPlatform, PlatformArgs

try:
    config = read_stack_config()
except ConfigError as invalid:
    for line in invalid.lines:
        pulumi.log.error(line)
    raise pulumi.RunError(f"invalid stack config ({len(invalid.lines)} problem(s)); nothing was created") from None

platform = GitOpsPlatform("gitops", PlatformArgs(config=config, secrets=read_stack_secrets()))
for key, value in platform.outputs.items():
    pulumi.export(key, value)
