"""What an agent is: how to launch it (argv, env, home dir, config files) and what it is good at.

Pure data. Nothing here starts a process; ``available()`` only looks the program up (see
:func:`find_program`): first in the agent folders (``$NBORCH_AGENT_PATH``, else the
``.agents/bin`` that ``make agents`` fills in an nborch checkout), then on ``PATH``.

>>> spec = AgentSpec(name="echo", display_name="Echo", kind="script",
...                  argv=("echo", "{task_id}: {prompt_file}"))
>>> spec.render_argv(task_id="1.1", prompt_file="p; rm -rf /")
['echo', '1.1: p; rm -rf /']
"""

from __future__ import annotations

import os
import re
import shutil
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import AgentError
from ..names import TASK_TYPES

PLACEHOLDERS = frozenset({"prompt", "prompt_file", "worktree", "task_id", "model"})
KINDS = ("cli", "manual", "script", "demo")
PROMPT_VIA = ("arg", "file", "stdin-file")
OUTPUTS = ("stream-json", "json", "text")

Kind = Literal["cli", "manual", "script", "demo"]
PromptVia = Literal["arg", "file", "stdin-file"]
Output = Literal["stream-json", "json", "text"]

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
AGENT_PATH_ENV = "NBORCH_AGENT_PATH"
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FORMATTER = string.Formatter()


class Scores(Mapping[str, float]):
    """An immutable, hashable mapping of name → score in [0, 1], kept in the order given."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, float] | Iterable[tuple[str, float]] = ()):
        pairs = items.items() if isinstance(items, Mapping) else items
        checked: dict[str, float] = {}
        for key, value in pairs:
            score = float(value)
            if not 0.0 <= score <= 1.0:
                raise AgentError(f"score for {key!r} must be between 0 and 1, got {value!r}")
            checked[str(key).lower()] = score
        self._items = tuple(checked.items())

    def __getitem__(self, key: str) -> float:
        for name, score in self._items:
            if name == key:
                return score
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def __repr__(self) -> str:
        return f"Scores({dict(self._items)!r})"


@dataclass(frozen=True, slots=True)
class Capability:
    """What an agent is good at: a default profile the assigner reads and a user may override.

    Parameters
    ----------
    strengths:
        Task type (one of ``TASK_TYPES``) → 0..1. A missing type counts as 0.
    stacks:
        Tech stack name (``"python"``, ``"typescript"``…) → 0..1 affinity.
    cost_tier:
        1 cheap, 2 moderate, 3 expensive.
    context_tokens:
        Size of the context window the agent usually works with (0 if unknown).
    """

    strengths: Mapping[str, float] = field(default_factory=Scores)
    stacks: Mapping[str, float] = field(default_factory=Scores)
    cost_tier: int = 2
    context_tokens: int = 0
    notes: str = ""

    def __post_init__(self) -> None:
        strengths, stacks = Scores(self.strengths), Scores(self.stacks)
        unknown = sorted(set(strengths) - set(TASK_TYPES))
        if unknown:
            raise AgentError(
                f"unknown task type(s) {', '.join(unknown)} in strengths; "
                f"use any of {', '.join(TASK_TYPES)}"
            )
        if self.cost_tier not in (1, 2, 3):
            raise AgentError(f"cost_tier must be 1, 2 or 3, got {self.cost_tier!r}")
        if self.context_tokens < 0:
            raise AgentError(f"context_tokens must be >= 0, got {self.context_tokens!r}")
        object.__setattr__(self, "strengths", strengths)
        object.__setattr__(self, "stacks", stacks)

    def strength(self, task_type: str) -> float:
        """The 0..1 strength for a task type; 0 when the profile does not mention it."""
        return self.strengths.get(task_type.lower(), 0.0)

    def affinity(self, stack: str) -> float:
        """The 0..1 affinity for a tech stack; 0 when the profile does not mention it."""
        return self.stacks.get(stack.lower(), 0.0)

    def best_at(self, n: int = 2) -> list[str]:
        """The ``n`` strongest task types, strongest first (ties in ``TASK_TYPES`` order)."""
        ranked = sorted(TASK_TYPES, key=lambda t: -self.strength(t))
        return [t for t in ranked[:n] if self.strength(t) > 0]


def placeholders(template: str) -> list[str]:
    """The placeholder names in one argv template; ``{{`` and ``}}`` are literal braces.

    Raises ``AgentError`` for malformed braces, format specs and conversions.
    """
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as err:
        raise AgentError(
            f"cannot read {template!r}: {err}; write {{{{ and }}}} for literal braces"
        ) from None
    names = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if spec or conversion:
            raise AgentError(
                f"placeholder {{{name}...}} in {template!r} may not carry a format spec or "
                f"conversion; write just {{{name}}}"
            )
        names.append(name)
    return names


def check_placeholders(argv: Iterable[str], allowed: frozenset[str] = PLACEHOLDERS) -> None:
    """Raise ``AgentError`` naming any placeholder in ``argv`` that is not in ``allowed``."""
    for template in argv:
        for name in placeholders(template):
            if name not in allowed:
                known = ", ".join("{" + p + "}" for p in sorted(allowed))
                raise AgentError(
                    f"unknown placeholder {{{name}}} in {template!r}; known placeholders: "
                    f"{known} (write {{{{ and }}}} for literal braces)"
                )


# Where `make agents` installs the pinned CLIs in an nborch checkout (absent in a plain install).
PROJECT_AGENT_DIR = Path(__file__).resolve().parents[2] / ".agents" / "bin"


def agent_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The folders searched for agent programs before ``PATH``.

    ``$NBORCH_AGENT_PATH`` (``os.pathsep``-separated, in order) when it is set — empty means
    none; unset, the ``.agents/bin`` folder that ``make agents`` fills in this nborch checkout,
    when it exists. ``make agents`` links only the agents' entry points there (never an
    interpreter), so searching it first pins the agents without shadowing ``python`` or ``node``.
    """
    source = os.environ if environ is None else environ
    value = source.get(AGENT_PATH_ENV)
    if value is None:
        return [PROJECT_AGENT_DIR] if PROJECT_AGENT_DIR.is_dir() else []
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part]


def find_program(program: str, path: str | None = None,
                 environ: Mapping[str, str] | None = None) -> str | None:  # fmt: skip
    """The absolute path of ``program``: a path is checked as is; a bare name is looked up in
    :func:`agent_dirs` first, then on ``path`` (default: ``$PATH``). None when not found or
    not executable."""
    if not program:
        return None
    if os.sep in program:
        found = shutil.which(program)
        return os.path.abspath(found) if found else None
    for folder in agent_dirs(environ):
        found = shutil.which(program, path=str(folder))
        if found:
            return os.path.abspath(found)
    found = shutil.which(program, path=path)
    return os.path.abspath(found) if found else None


@dataclass(frozen=True, slots=True, repr=False)
class AgentSpec:
    """How one coding agent is launched, fed, isolated and read, plus what it is good at.

    ``argv`` is the whole command line, program first, as templates with the placeholders
    ``{prompt}``, ``{prompt_file}``, ``{worktree}``, ``{task_id}`` and ``{model}``; it is
    rendered without a shell by ``render_argv``. ``model_args`` (e.g. ``("--model", "{model}")``)
    are appended only when a model is asked for, so each tool keeps its own default otherwise.
    ``prompt_via``: ``arg`` puts the prompt in argv, ``file`` writes it to ``{prompt_file}``,
    ``stdin-file`` feeds that file on stdin. ``env_allow`` holds names or ``fnmatch`` globs passed
    through from the caller's environment; ``env_set`` pairs nborch sets. ``home_env`` names the
    variable pointed at the per-attempt config dir (None: point ``HOME`` there). ``env_args``
    pairs a variable with arguments appended when the agent's environment sets it (from
    ``env_set``, else from the caller's when ``env_allow`` lets it through); the templates may
    use ``{NAME}`` for its value — how a CLI that takes its server only as a flag (Codex) follows
    ``OPENAI_BASE_URL``.
    """

    name: str
    display_name: str
    kind: Kind
    executable: str | None = None
    argv: tuple[str, ...] = ()
    prompt_via: PromptVia = "file"
    model_args: tuple[str, ...] = ()
    env_allow: tuple[str, ...] = ()
    env_set: tuple[tuple[str, str], ...] = ()
    env_args: tuple[tuple[str, tuple[str, ...]], ...] = ()
    home_env: str | None = None
    config_files: tuple[str, ...] = ()
    output: Output = "text"
    parser: str = "text"
    exit_zero_on_failure: bool = False
    install_hint: str = ""
    # what to set when the agent's login fails: each attempt has its own config folder, so a login
    # made in the tool itself (its OAuth files) is not seen there
    auth_hint: str = ""
    docs: str = ""
    capability: Capability = field(default_factory=Capability)
    is_demo: bool = False

    def __post_init__(self) -> None:
        for name in ("argv", "model_args", "env_allow", "config_files"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        env_set = self.env_set.items() if isinstance(self.env_set, Mapping) else self.env_set
        object.__setattr__(self, "env_set", tuple((str(k), str(v)) for k, v in env_set))
        env_args = self.env_args.items() if isinstance(self.env_args, Mapping) else self.env_args
        object.__setattr__(self, "env_args", tuple((k, tuple(v)) for k, v in env_args))
        self._validate()

    def _validate(self) -> None:
        who = f"agent {self.name!r}"
        if not isinstance(self.name, str) or not NAME_RE.fullmatch(self.name):
            raise AgentError(
                f"bad agent name {self.name!r}: use lowercase letters, digits, '-' and '_', "
                "starting with a letter or digit (e.g. 'my-agent')"
            )
        for attr, allowed in (("kind", KINDS), ("prompt_via", PROMPT_VIA), ("output", OUTPUTS)):
            if getattr(self, attr) not in allowed:
                raise AgentError(
                    f"{who}: {attr} must be one of {', '.join(allowed)}, "
                    f"got {getattr(self, attr)!r}"
                )
        if not isinstance(self.capability, Capability):
            raise AgentError(f"{who}: capability must be a Capability")
        check_placeholders(self.argv + self.model_args)
        if self.kind == "manual":
            if self.argv:
                raise AgentError(f"{who}: a manual agent has no command line; leave argv empty")
        elif not self.argv:
            raise AgentError(f"{who}: a {self.kind} agent needs argv (its command line)")
        if self.kind in ("cli", "demo") and not self.executable:
            raise AgentError(f"{who}: a {self.kind} agent needs an executable")
        if self.kind == "script" and placeholders(self.argv[0]):
            raise AgentError(
                f"{who}: the program {self.argv[0]!r} may not be a placeholder; "
                "run it through an interpreter, e.g. 'sh {worktree}/fix.sh'"
            )
        if self.prompt_via == "arg" and not any("prompt" in placeholders(a) for a in self.argv):
            raise AgentError(f"{who}: prompt_via='arg' needs {{prompt}} somewhere in argv")
        for key, _ in self.env_set:
            if not _ENV_NAME_RE.fullmatch(key):
                raise AgentError(f"{who}: {key!r} in env_set is not an environment variable name")
        for key, templates in self.env_args:
            if not isinstance(key, str) or not _ENV_NAME_RE.fullmatch(key):
                raise AgentError(f"{who}: {key!r} in env_args is not an environment variable name")
            if not self._passes(key):
                raise AgentError(f"{who}: env_args reads {key}, which neither env_allow nor "
                                 "env_set gives the agent; add it to env_allow")  # fmt: skip
            check_placeholders(templates, PLACEHOLDERS | {key})
        if self.home_env is not None and not _ENV_NAME_RE.fullmatch(self.home_env):
            raise AgentError(f"{who}: home_env {self.home_env!r} is not a variable name")

    @property
    def program(self) -> str | None:
        """The program looked up on PATH: ``executable``, else ``argv[0]``; None for manual."""
        if self.kind == "manual":
            return None
        return self.executable or (self.argv[0] if self.argv else None)

    def available(self) -> bool:
        """True when the agent can run here: manual agents always, others when their program is
        found (:func:`find_program`: agent folders, then PATH)."""
        if self.kind == "manual":
            return True
        program = self.program
        return bool(program) and find_program(program) is not None

    def unavailable_reason(self) -> str | None:
        """None when available, else a sentence naming the agent and how to install it."""
        if self.available():
            return None
        what = "script agent" if self.kind == "script" else "agent"
        lead = "To fix:" if self.kind == "script" else "Install it with:"
        hint = f" {lead} {self.install_hint}" if self.install_hint else ""
        return (
            f"{what} {self.name!r} ({self.display_name}) is not available: "
            f"{self.program!r} was not found on PATH (nor in {AGENT_PATH_ENV} folders) or is not "
            f"executable.{hint}"
        )

    def _passes(self, name: str) -> bool:
        """True when the variable ``name`` reaches the agent (set by nborch or allowed through)."""
        from fnmatch import fnmatchcase

        return any(k == name for k, _ in self.env_set) or any(
            fnmatchcase(name, pattern) for pattern in self.env_allow)  # fmt: skip

    def env_arg_values(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The non-empty values of the ``env_args`` variables the agent will see: ``env_set``'s,
        else the caller's (``environ``, default ``os.environ``)."""
        source = os.environ if environ is None else environ
        fixed = dict(self.env_set)
        values = {name: fixed.get(name, source.get(name, "")) for name, _ in self.env_args}
        return {name: value for name, value in values.items() if value}

    def render_argv(self, *, env: Mapping[str, str] | None = None, **values: object) -> list[str]:
        """The command line with placeholders filled in, one list item per argument, no shell.

        Values are inserted verbatim (a ``;`` or a space stays inside its argument); None counts
        as missing and unused values are ignored. ``model`` adds ``model_args`` when given; each
        ``env_args`` variable set in ``env`` (default ``os.environ``; ``env_set`` wins) adds its
        arguments. Raises ``AgentError`` naming a missing placeholder.
        """
        given = {k: v for k, v in values.items() if v is not None}
        templates = list(self.argv + (self.model_args if "model" in given else ()))
        extra = self.env_arg_values(env)
        for name, more in self.env_args:
            if name in extra:
                templates.extend(more)
        given.update(extra)
        rendered = []
        for template in templates:
            out = []
            for literal, name, _, _ in _FORMATTER.parse(template):
                out.append(literal)
                if name is None:
                    continue
                if name not in given:
                    raise AgentError(
                        f"agent {self.name!r}: no value for {{{name}}} in {template!r}; "
                        f"pass {name}=... to render_argv"
                    )
                value = given[name]
                text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
                if "\x00" in text:
                    raise AgentError(f"agent {self.name!r}: {{{name}}} contains a NUL byte")
                out.append(text)
            rendered.append("".join(out))
        return rendered

    def __repr__(self) -> str:
        where = self.program or "by hand"
        demo = ", demo" if self.is_demo else ""
        return f"<AgentSpec {self.name}: {self.kind} {where}{demo}>"
