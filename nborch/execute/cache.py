"""The result cache: an attempt asked to do exactly what a completed one already did is not run
again; that one's commit is reused.

An attempt's key is a hash of everything that decides what its agent is asked and where it starts:

* the task's text and fields (not its line in the plan, its ``done`` mark, its ``Agents:`` line
  or its priority: they say where the task is and who does it when, not what is asked);
* the agent's name and identity: its CLI's ``--version`` (else the program file's size and time),
  or for script agents the content of the program and of every file on its command line (not
  modules those import: change one, and run with ``cache=False``). On Dask this is looked up on
  this machine, not on the workers;
* the model asked for, and the values of the variables the agent may see that choose a model or
  a server (``*MODEL*``, ``*BASE_URL*``…; never ones that look like secrets);
* the start commit: the base, plus the commit of each dependency's chosen attempt (the merge
  commit made from them differs every run, so it is not part of the key);
* the rendered prompt and agent files, with this run's id, branch and paths taken out.

A key that matches a completed attempt recorded in the repository whose commit still exists is a
hit (:func:`find_cached`), its checks' verdict included: on the same commit they would fail (or
pass) again, so trying an agent again is a choice (``cache=False``), not a default.

>>> normalised("in /w/r1/t--a on nborch/r1/t/a", {"/w/r1/t--a": "{worktree}", "nborch/r1/t/a": "{branch}"})
'in {worktree} on {branch}'
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..agents import AgentSpec
from ..agents.spec import find_program
from ..proc.command import run_command
from ..store import AttemptRecord, Store
from ..workspace.prepare import PreparedAttempt
from ..workspace.repo import Repo

__all__ = ["CACHE_FORMAT", "agent_identity", "attempt_key", "find_cached", "normalised"]

CACHE_FORMAT = 1  # bump when what goes into a key changes, so old keys stop matching
VERSION_TIMEOUT_S = 15.0
# Where a task sits and who runs it when, not what it asks: moving a task, marking it done or
# giving it one more agent does not change what the agents already there were asked.
_NOT_TASK_TEXT = ("line", "depends_line", "done", "agents", "priority", "budget_usd")

# Variables that choose the model or the server an agent talks to (never secrets: their values
# are part of a key stored in the repository).
_CHOOSERS = re.compile(r"MODEL|BASE_URL|API_BASE|ENDPOINT|PROVIDER|REGION|DEPLOYMENT|_USE_|VERTEX")
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL")


def _source(line: int) -> re.Pattern[str]:
    """Where the prompt says the task is in the plan: editing a task above it moves it, nothing
    more. Its own line number, in the one sentence that says it (a plan name may have spaces)."""
    return re.compile(rf"\(from (?:[^()\n]+ line {line}|line {line} of the plan)\)")


def normalised(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each key replaced by its value, longest keys first (a path holds the run id)."""
    for old in sorted(replacements, key=len, reverse=True):
        if old:
            text = text.replace(old, replacements[old])
    return text


def attempt_key(pa: PreparedAttempt, *, model: str | None,
                dependencies: Sequence[tuple[str, str | None]] = ()) -> str:  # fmt: skip
    """The cache key of ``pa`` (a hex digest); ``dependencies`` are ``(task, commit)`` of the
    attempts its task builds on (commit None: it completed without changing anything)."""
    a = pa.attempt
    # only whole paths and the branch: a bare run id ("fix", "test") could be any word
    local = {str(a.attempt_dir): "{attempt_dir}", str(a.path): "{worktree}", a.branch: "{branch}"}
    task = {k: v for k, v in asdict(pa.task).items() if k not in _NOT_TASK_TEXT}
    files = {}
    for rel in sorted(a.managed_files):
        path = a.path / rel
        files[rel] = normalised(_read(path), local) if path.is_file() else None
    material = {
        "format": CACHE_FORMAT, "task": task, "agent": pa.spec.name,
        "identity": agent_identity(pa.spec), "model": model, "settings": choices(pa.spec),
        "base": a.base_commit,
        "dependencies": sorted([t, c or ""] for t, c in dependencies),
        "prompt": _source(pa.task.line).sub("(from {source})", normalised(_read(pa.prompt_path), local),
                                            count=1),
        "files": files,
    }  # fmt: skip
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def choices(spec: AgentSpec, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values of the variables the agent may see that choose its model or server
    (``ANTHROPIC_MODEL``, ``OPENAI_BASE_URL``…): another value is another attempt.

    >>> from nborch.agents import get
    >>> choices(get("codex"), {"OPENAI_BASE_URL": "http://127.0.0.1:9", "OPENAI_API_KEY": "s"})
    {'OPENAI_BASE_URL': 'http://127.0.0.1:9'}
    """
    from fnmatch import fnmatchcase

    env = os.environ if environ is None else environ
    return {name: env[name] for name in sorted(env)
            if _CHOOSERS.search(name) and not _SECRET.search(name)
            and any(fnmatchcase(name, pattern) for pattern in spec.env_allow)}  # fmt: skip


def agent_identity(spec: AgentSpec) -> str:
    """What tells one install of an agent from another: its command line and environment
    settings, plus (for CLIs) ``PROGRAM --version``, or (for scripts and the demo) the content of
    the program and of the files its command line names."""
    parts: list[str] = [spec.kind, json.dumps([spec.argv, spec.model_args, spec.env_set,
                                                spec.env_args, spec.parser])]  # fmt: skip
    program = find_program(spec.program) if spec.program else None
    if program is not None:
        stat = os.stat(program)
        if spec.kind == "cli":
            parts.append(_cli_version(program, stat.st_size, stat.st_mtime_ns))
        else:
            parts.append(_file_digest(program, stat.st_size, stat.st_mtime_ns))
    for arg in spec.argv[1:]:
        if os.path.isabs(arg) and os.path.isfile(arg):  # a script the agent runs
            stat = os.stat(arg)
            parts.append(_file_digest(arg, stat.st_size, stat.st_mtime_ns))
    if spec.kind == "demo":
        from ..version import __version__

        parts.append(f"nborch {__version__}")  # the demo agent is nborch's own code
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@functools.cache
def _cli_version(program: str, size: int, mtime_ns: int) -> str:
    """``PROGRAM --version``'s output; the file's size and time when it has none (an upgrade
    changes both, so a new install never reuses an old one's results)."""
    try:  # through nborch's runner: whatever the CLI starts is gone when it ends
        res = run_command([program, "--version"], timeout=VERSION_TIMEOUT_S)
    except OSError:
        res = None
    if res is not None and res.ok and res.stdout.strip():
        return f"version {res.stdout.strip()[:500]}"
    return f"file {program} {size} {mtime_ns}"


@functools.cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"file {digest.hexdigest()}"


def find_cached(store: Store, repo: Repo, key: str, run_id: str) -> AttemptRecord | None:
    """The newest attempt of another run with ``key`` that completed and whose commit (if it
    made one) still exists in ``repo``."""
    for rec in store.cached_attempts(key, exclude_run=run_id):
        if rec.commit_sha is None or repo.resolve(rec.commit_sha) is not None:
            return rec
    return None


def origin(rec: AttemptRecord) -> str:
    """The run whose agent made the result ``rec`` holds (itself, or the run it reused)."""
    return rec.cached_from or rec.run_id


def reused_fields(rec: AttemptRecord) -> dict[str, Any]:
    """What an attempt takes over from the attempt whose result it reuses."""
    return {"commit": rec.commit_sha, "files_changed": rec.files_changed,
            "insertions": rec.insertions, "deletions": rec.deletions,
            "input_tokens": rec.input_tokens, "output_tokens": rec.output_tokens,
            "cost_usd": rec.cost_usd, "return_code": rec.return_code,
            "validation": rec.validation, "validation_details": json.loads(rec.validation_json or "[]"),
            "log_path": rec.log_path if rec.log_path and os.path.exists(rec.log_path) else ""}  # fmt: skip
