"""Place each agent's native instruction file in a worktree without clobbering the user's text.

nborch's part of a file sits between two marker lines::

    <!-- nborch:begin (written by nborch for this attempt; do not edit) -->
    ...
    <!-- nborch:end -->

A new file is nborch's alone. A file the repository already has keeps its text: nborch's section
is appended once and, on every later write, replaced in place. ``strip_section`` takes it out
again, so the worktree manager can keep nborch's files out of an attempt's result commit.

>>> merge_section("# Mine\\n", "<!-- nborch:begin -->\\nrules\\n<!-- nborch:end -->\\n")
'# Mine\\n\\n<!-- nborch:begin -->\\nrules\\n<!-- nborch:end -->\\n'
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ...errors import NborchError
from .context import ProjectContext
from .render import PromptRenderer, agent_spec, renderer_for

if TYPE_CHECKING:
    from ...agents import AgentSpec
    from ...plan.model import Plan, Task

__all__ = [
    "BEGIN",
    "END",
    "merge_section",
    "remove_agent_files",
    "render_agent_files",
    "strip_section",
    "write_agent_files",
]

BEGIN = "<!-- nborch:begin"
END = "<!-- nborch:end -->"
_FRONT_MATTER_ONLY = re.compile(r"\s*(?:---\n.*?\n---\s*)?", re.DOTALL)  # nothing of the user's
DIR_FILE = "nborch.md"  # written inside a folder of rules (.clinerules/ may be one)
# One whole section: a begin line, then anything without another begin, then the end line.
_SECTION = re.compile(
    rf"^{re.escape(BEGIN)}[^\n]*\n(?:(?!{re.escape(BEGIN)}).)*?^{re.escape(END)}[^\n]*(?:\n|\Z)",
    re.DOTALL | re.MULTILINE,
)


def section_of(rendered: str) -> str:
    """nborch's section in a rendered file; a template without markers is wrapped in them."""
    found = _SECTION.search(rendered)
    if found:
        return found.group(0) if found.group(0).endswith("\n") else found.group(0) + "\n"
    body = rendered.strip("\n")
    return f"{BEGIN} (written by nborch for this attempt; do not edit) -->\n{body}\n{END}\n"


def merge_section(existing: str | None, rendered: str) -> str:
    """The file text after placing nborch's section; pure.

    ``existing`` None (no file yet) gives ``rendered`` itself (front matter and all). Otherwise
    the first whole section is replaced, any other whole sections are removed, and a file with
    none gets the section appended after a blank line. Line endings follow the existing file.
    """
    if existing is None:
        return rendered if _SECTION.search(rendered) else section_of(rendered)
    newline = "\r\n" if "\r\n" in existing else "\n"
    text = existing.replace("\r\n", "\n")
    section = section_of(rendered)
    matches = list(_SECTION.finditer(text))
    if matches:
        first = matches[0]
        text = text[: first.start()] + section + _SECTION.sub("", text[first.end() :])
    else:
        text = (text if not text or text.endswith("\n") else text + "\n") + "\n" * bool(text)
        text += section
    return text.replace("\n", newline) if newline != "\n" else text


def strip_section(text: str) -> str:
    """``text`` without nborch's sections (and the blank line placed before one); pure.

    >>> strip_section(merge_section("# Mine\\n", "rules"))
    '# Mine\\n'
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    plain = text.replace("\r\n", "\n")
    kept, pos = [], 0
    for match in _SECTION.finditer(plain):
        before = plain[pos : match.start()]
        kept.append(before[:-1] if before.endswith("\n\n") else before)
        pos = match.end()
    kept.append(plain[pos:])
    out = "".join(kept)
    return out.replace("\n", newline) if newline != "\n" else out


def render_agent_files(
    worktree: str | Path,
    agent: str | AgentSpec,
    task: Task,
    plan: Plan | None = None,
    context: ProjectContext | None = None,
    *,
    templates: PromptRenderer | None = None,
) -> dict[str, str]:
    """Each of the agent's instruction files (``spec.config_files``) → its rendered text; pure."""
    spec = agent_spec(agent)
    renderer = templates if templates is not None else PromptRenderer()
    ctx = context if context is not None else ProjectContext()
    return {rel: renderer.agent_file(rel, task, spec, plan=plan, worktree=worktree, context=ctx)
            for rel in spec.config_files}  # fmt: skip


def write_agent_files(
    worktree: str | Path,
    agent: str | AgentSpec,
    task: Task,
    plan: Plan | None = None,
    context: ProjectContext | None = None,
    *,
    templates: PromptRenderer | str | Path | None = None,
) -> list[str]:
    """Write the agent's native instruction files into ``worktree``.

    Parameters
    ----------
    worktree:
        The attempt's worktree (it must exist).
    agent:
        An agent name or spec; its ``config_files`` say which files to write.
    context:
        The project context; detected from the worktree and ``plan`` when None.
    templates:
        A renderer, or the repository whose ``.nborch/templates/`` to use; by default the
        worktree's own.

    Returns
    -------
    list[str]
        Worktree-relative POSIX paths of every file that holds an nborch section after this
        call (created or modified, even when this call left its bytes as they were). A file the
        repository tracks keeps its own text; ``strip_section`` restores it.

    Raises
    ------
    NborchError
        When the worktree is missing, a config path would leave the worktree, or an existing
        file is not UTF-8 text.
    """
    root = Path(worktree)
    if not root.is_dir():
        raise NborchError(f"worktree {root} does not exist; create it before writing agent files")
    if context is None:
        context = ProjectContext.detect(root, plan)
    renderer = renderer_for(templates, root)
    written: list[str] = []
    rendered = render_agent_files(root, agent, task, plan, context, templates=renderer)
    for rel, text in rendered.items():
        path = _target(root, rel)
        existing = _read_text(path, rel) if path.exists() else None
        new = merge_section(existing, text)
        if new != existing:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(new.encode("utf-8"))
        name = path.resolve().relative_to(root.resolve()).as_posix()
        if name not in written:
            written.append(name)
    return written


def remove_agent_files(worktree: str | Path, paths: list[str]) -> list[str]:
    """Take nborch's sections out of ``paths`` again; a file left empty is deleted.

    Returns the paths that changed. A file with nothing left but blank lines or the front matter
    nborch gave it is deleted; a file the repository tracks gets its own text back (up to a final newline the original may have lacked).
    """
    root = Path(worktree)
    changed = []
    for rel in paths:
        path = _target(root, rel)
        if not path.is_file():
            continue
        text = _read_text(path, rel)
        rest = strip_section(text)
        if rest == text:
            continue
        if _FRONT_MATTER_ONLY.fullmatch(rest.replace("\r\n", "\n")):
            path.unlink()
        else:
            path.write_bytes(rest.encode("utf-8"))
        changed.append(rel)
    return changed


def _target(root: Path, rel: str) -> Path:
    """``root/rel``, refused if it would leave the worktree; a folder gets ``nborch.md`` in it."""
    parts = PurePosixPath(rel.replace("\\", "/"))
    if parts.is_absolute() or ".." in parts.parts or not parts.parts or ":" in parts.parts[0]:
        raise NborchError(
            f"agent config file {rel!r} must be a relative path inside the worktree, "
            "like 'AGENTS.md' or '.github/copilot-instructions.md'"
        )
    path = root.joinpath(*parts.parts)
    if path.is_dir():
        path = path / DIR_FILE
    if not path.resolve().is_relative_to(root.resolve()):
        raise NborchError(
            f"{rel!r} in worktree {root} is a link to {path.resolve()}, outside the worktree; "
            "nborch will not write through it — replace the link with a file"
        )
    return path


def _read_text(path: Path, rel: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise NborchError(
            f"{rel} in {path.parent} is not UTF-8 text; nborch will not rewrite it — convert it "
            "to UTF-8 or remove the agent's config file from its spec"
        ) from None
