"""An agent's environment, built from an allow-list, and the redaction of its secrets from logs.

Pure functions over mappings; nothing here reads ``os.environ`` unless no ``base`` is given.

>>> env = build_env(["ANTHROPIC_*"], {"NO_COLOR": "1"}, home=Path("/runs/a1/home"),
...                 home_env=None, base={"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "x" * 40,
...                                      "ANTHROPIC_API_KEY": "sk-ant-123456"})
>>> sorted(env)
['ANTHROPIC_API_KEY', 'HOME', 'NO_COLOR', 'PATH']
>>> Redactor(secrets_of(env))("key=sk-ant-123456")
'key=***'
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path

#: Names that always pass: what a program needs to find tools, speak a locale, draw a terminal.
ALWAYS_ALLOWED = ("PATH", "LANG", "LC_*", "TERM", "TZ", "TMPDIR")
#: Globs (matched upper-cased) of variable names whose values are credentials.
CREDENTIAL_NAMES = ("*KEY*", "*TOKEN*", "*SECRET*", "*PASSWORD*", "*CREDENTIAL*")
#: Shorter values are not redacted: they would mangle ordinary words in every log line.
#: What a test run (validation, the comparison's test runs, merge) gets from nborch's environment
#: beyond :data:`ALWAYS_ALLOWED`: what test tools need to find themselves — never a credential
#: (names matching :data:`CREDENTIAL_NAMES` are dropped even when a glob here matches them). A plan
#: names more with ``test_env: [DATABASE_URL]``; ``nborch compare -e NAME=VALUE`` sets one.
TEST_ALLOWED = ("HOME", "USER", "LOGNAME", "SHELL", "PYTHON*", "VIRTUAL_ENV", "CONDA_PREFIX",
                "PYTEST_*", "COVERAGE_*", "CI", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "XDG_*",
                "JAVA_HOME", "GOPATH", "GOROOT", "GOCACHE", "GOFLAGS", "CARGO_HOME",
                "RUSTUP_HOME", "NODE_PATH", "NODE_OPTIONS")  # fmt: skip
MIN_SECRET_LEN = 6
MASK = "***"

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def build_env(
    allow: Iterable[str],
    set_: Mapping[str, str],
    home: Path | None,
    home_env: str | None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment an agent process gets; nothing is inherited beyond it.

    Parameters
    ----------
    allow:
        Names or ``fnmatch`` globs (case-sensitive, e.g. ``ANTHROPIC_*``) passed through from
        ``base`` on top of :data:`ALWAYS_ALLOWED`. Nothing else passes: no ``AWS_*``, no
        ``GITHUB_TOKEN`` unless a pattern names it.
    set_:
        Variables nborch sets; they override what passed through.
    home:
        The per-attempt home/config directory, or None to leave homes alone.
    home_env:
        The variable the tool reads its config dir from (``CLAUDE_CONFIG_DIR``, ``CODEX_HOME``…):
        it is set to ``home`` and ``HOME`` passes through unchanged, so git and the shell still
        find the user's own files. When None, ``HOME`` itself points at ``home``.
    base:
        The caller's environment; ``os.environ`` when None.

    Returns
    -------
    A new ``dict``; later sets win in this order: allowed, ``set_``, the home variable.
    """
    patterns = (*ALWAYS_ALLOWED, *_check_patterns(allow))
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if _matches(name, patterns)}
    for name, value in set_.items():
        env[_check_name(name, "set_")] = _check_value(name, value)
    if home is not None:
        if home_env is None:
            env["HOME"] = str(home)
        else:
            env[_check_name(home_env, "home_env")] = str(home)
            if "HOME" in source:
                env["HOME"] = source["HOME"]
    return env


def checks_env(base: Mapping[str, str] | None = None, allow: Iterable[str] = ()) -> dict[str, str]:
    """The environment of a test run: :data:`ALWAYS_ALLOWED` and :data:`TEST_ALLOWED` from
    ``base`` (``os.environ`` when None), plus the names or globs in ``allow`` — which alone may
    pass a credential-named variable, because the plan named it.

    >>> sorted(checks_env({"PATH": "/bin", "HOME": "/h", "GITHUB_TOKEN": "ghp_123456",
    ...                    "DATABASE_URL": "postgres://u:pw@db/x", "PYTEST_ADDOPTS": "-x"}))
    ['HOME', 'PATH', 'PYTEST_ADDOPTS']
    """
    named = _check_patterns(allow)
    env = build_env(TEST_ALLOWED, {}, None, None, base)
    env = {k: v for k, v in env.items() if not _matches(k.upper(), CREDENTIAL_NAMES)}
    source = os.environ if base is None else base
    env.update({k: v for k, v in source.items() if named and _matches(k, named)})
    return env


def secrets_of(env: Mapping[str, str], allow: Iterable[str] | None = None) -> tuple[str, ...]:
    """The values to redact: credential-looking variables of ``env`` with >= 6 characters.

    A name looks like a credential when, upper-cased, it matches one of
    :data:`CREDENTIAL_NAMES` (``OPENAI_API_KEY``, ``GH_TOKEN``, ``DB_PASSWORD``…). With
    ``allow`` (globs, e.g. the agent's own allow-list) only names matching it count; with None,
    every credential-looking name does — the safe default. Longest first, no duplicates.
    """
    wanted = None if allow is None else tuple(_check_patterns(allow))
    found = {
        value
        for name, value in env.items()
        if _matches(name.upper(), CREDENTIAL_NAMES)
        and (wanted is None or _matches(name, wanted))
        and len(value) >= MIN_SECRET_LEN
    }
    for name, value in env.items():  # config passed as JSON (OPENCODE_CONFIG_CONTENT) holds keys
        if (wanted is None or _matches(name, wanted)) and value.lstrip().startswith("{"):
            found.update(_json_secrets(value))
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def secrets_of_all(*envs: Mapping[str, str]) -> tuple[str, ...]:
    """:func:`secrets_of` of several environments together (an attempt's and nborch's own, which
    an agent can read from ``/proc/<parent pid>/environ``): longest first, no duplicates."""
    found = {value for env in envs for value in secrets_of(env)}
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def _json_secrets(text: str) -> set[str]:
    """Credential-looking values (by key name) anywhere in a JSON document; none if not JSON."""
    try:
        data = json.loads(text)
    except ValueError:
        return set()
    found: set[str] = set()
    todo = [data]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if (isinstance(value, str) and len(value) >= MIN_SECRET_LEN
                        and _matches(str(key).upper(), CREDENTIAL_NAMES)):  # fmt: skip
                    found.add(value)
                else:
                    todo.append(value)
        elif isinstance(item, list):
            todo.extend(item)
    return found


class Redactor:
    """Replaces every secret in a line with ``***``; a no-op when there are none.

    Secrets are matched longest first, so a secret that contains another is masked whole.
    A multi-line secret (a PEM key) is redacted line by line, since logs are read by lines.

    >>> Redactor(["hunter22", "hunter2222"])("pw=hunter2222 or hunter22")
    'pw=*** or ***'
    """

    __slots__ = ("_pattern", "longest", "secrets")

    def __init__(self, secrets: Iterable[str] = ()):
        parts: set[str] = set()
        for secret in secrets:
            if not isinstance(secret, str):
                raise TypeError(f"a secret must be a str, got {type(secret).__name__}")
            parts.update(p for p in secret.splitlines() if p)
        self.secrets = tuple(sorted(parts, key=lambda s: (-len(s), s)))
        self.longest = max((len(s.encode()) for s in self.secrets), default=0)
        self._pattern = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, line: str) -> str:
        if self._pattern is None:
            return line
        return self._pattern.sub(MASK, line)

    def head(self, text: str, n: int) -> str:
        """``text[:n]`` redacted, never ending in a fragment of a secret that crosses ``n``.

        A secret that starts before ``n`` and ends after it is kept whole (then masked), so
        cutting a long line can't leak the first half of a key.
        """
        if self._pattern is not None:
            for match in self._pattern.finditer(text, 0, n + self.longest):
                if match.start() < n < match.end():
                    n = match.end()
                    break
                if match.start() >= n:
                    break
        return self(text[:n])

    def __repr__(self) -> str:
        return f"<Redactor: {len(self.secrets)} secret(s)>"


def _check_patterns(patterns: Iterable[str]) -> list[str]:
    if isinstance(patterns, str):
        raise TypeError(f"allow must be a list of names or globs, not the string {patterns!r}")
    checked = list(patterns)
    for pattern in checked:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"bad allow pattern {pattern!r}: use a name or glob like 'OPENAI_*'")
    return checked


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(f"{what}: {name!r} is not an environment variable name (e.g. 'MY_VAR')")
    return name


def _check_value(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"set_[{name!r}] must be a str, got {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"set_[{name!r}] contains a NUL byte, which no environment can hold")
    return value
