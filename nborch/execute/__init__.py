"""Running agent attempts: the process runner, the agent environment and log redaction."""

from .env import Redactor, build_env, secrets_of
from .process import run_process
from .spec import ProcessResult, ProcessSpec, ProcessState

__all__ = [
    "ProcessResult",
    "ProcessSpec",
    "ProcessState",
    "Redactor",
    "build_env",
    "run_process",
    "secrets_of",
]
