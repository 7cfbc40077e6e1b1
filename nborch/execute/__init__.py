"""Running agent attempts: the process runner, the agent environment and log redaction."""

from ..proc.env import Redactor, build_env, secrets_of
from ..proc.runner import run_process
from ..proc.spec import ProcessResult, ProcessSpec, ProcessState

__all__ = [
    "ProcessResult",
    "ProcessSpec",
    "ProcessState",
    "Redactor",
    "build_env",
    "run_process",
    "secrets_of",
]
