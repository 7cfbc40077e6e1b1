"""Making attempts' worktrees: safe names, one branch and worktree each, all or nothing.

:meth:`nborch.workspace.manager.WorktreeManager.create` calls :func:`create`. Ref and worktree changes hold
the repository lock; the file checkout of each new worktree runs outside it, in parallel.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WorktreeError
from ..gitcmd import ref_problem
from ..names import short_hash, slugify
from ..store import AttemptRecord
from .records import BRANCH_PREFIX, Attempt, RunInfo, record_of

if TYPE_CHECKING:
    from ..plan.model import Task
    from .repo import Repo

__all__ = ["create", "free_slug", "rmdir_empty"]


def create(manager: Repo, run: RunInfo | str,
           attempts: Iterable[tuple[Task | str, str]]) -> list[Attempt]:  # fmt: skip
    """Make one branch and worktree per (task, agent); see :meth:`WorktreeManager.create`."""
    info = run if isinstance(run, RunInfo) else manager.run(run)
    with manager.store() as store:
        existing = store.attempts(info.id)
    todo = _name_attempts(manager, info, list(attempts), existing)
    if not todo:
        return []
    with manager.store() as store:
        try:
            store.add_attempts(record_of(a, "creating") for a in todo)
        except ValueError as err:
            raise WorktreeError(f"cannot record attempts of run {info.id}: {err}") from err
    made: dict[str, set[str]] = {a.name: set() for a in todo}
    run_dir_existed = info.path.exists()
    errors: list[tuple[Attempt, WorktreeError]] = []

    def make(a: Attempt) -> None:
        if errors:
            return
        try:
            _make(manager, a, made[a.name])
        except Exception as err:  # anything half-made is rolled back below
            errors.append((a, err if isinstance(err, WorktreeError) else WorktreeError(str(err))))

    manager.pool(make, todo)
    if errors:
        failed, err = errors[0]
        problems = _rollback(manager, info, todo, made, run_dir_existed)
        extra = f"; rollback problems: {'; '.join(problems)}" if problems else ""
        raise WorktreeError(f"could not create the worktree of task {failed.task_id!r} × agent "
                            f"{failed.agent!r} at {failed.path}: {err} — nothing of this call "
                            f"was kept{extra}") from err  # fmt: skip
    with manager.store() as store:
        for a in todo:
            store.update_attempt(a.run_id, a.task_id, a.agent, state="prepared", head=a.base_commit)
    return todo


def _name_attempts(manager: Repo, info: RunInfo, pairs: list[tuple[Task | str, str]],
                   existing: list[AttemptRecord]) -> list[Attempt]:  # fmt: skip
    task_slug = {a.task_id: a.task_slug for a in existing}
    agent_slug = {a.agent: a.branch.rsplit("/", 1)[-1] for a in existing}
    keys = {(a.task_id, a.agent) for a in existing}
    out = []
    for task, agent in pairs:
        task_id = task if isinstance(task, str) else task.id
        preferred = task.slug if not isinstance(task, str) else (
            info.plan[task].slug if info.plan is not None and task in info.plan else "")
        if not isinstance(agent, str) or not agent.strip() or not task_id.strip():
            raise WorktreeError(f"attempt ({task_id!r}, {agent!r}) needs a task id and an "
                                "agent name that are not empty")  # fmt: skip
        if (task_id, agent) in keys:
            raise WorktreeError(f"task {task_id!r} × agent {agent!r} is listed twice or already "
                                f"exists in run {info.id} — list each pair once")  # fmt: skip
        keys.add((task_id, agent))
        if task_id not in task_slug:
            task_slug[task_id] = free_slug(task_id, preferred, set(task_slug.values()), 48)
        if agent not in agent_slug:
            agent_slug[agent] = free_slug(agent, "", set(agent_slug.values()), 32)
        ts, ags = task_slug[task_id], agent_slug[agent]
        branch = f"{BRANCH_PREFIX}/{info.id}/{ts}/{ags}"
        problem = ref_problem(f"refs/heads/{branch}")
        if problem:  # slugs make this impossible; the check guards future changes
            raise WorktreeError(f"branch name {branch!r} {problem} — report this as a bug")
        path = (info.path / f"{ts}--{ags}").resolve()
        if not path.is_relative_to(info.root.resolve()):
            raise WorktreeError(f"worktree path {path} would leave the root {info.root}")
        attempt_dir = manager.common_dir / BRANCH_PREFIX / "runs" / info.id / f"{ts}--{ags}"
        out.append(Attempt(info.id, task_id, ts, agent, branch, path, attempt_dir, info.base_commit))
    return out


def _make(manager: Repo, a: Attempt, made: set[str]) -> None:
    git = manager.git
    a.attempt_dir.mkdir(parents=True)
    made.add("dir")
    a.path.parent.mkdir(parents=True, exist_ok=True)
    with git.lock():  # refs and worktree registrations: one git at a time per repo
        git.run("branch", "--no-track", a.branch, a.base_commit)
        made.add("branch")
        git.run("worktree", "add", "--no-checkout", "--quiet", str(a.path), a.branch)
        made.add("worktree")
    # The checkout writes only this worktree's files and index: safe to run in parallel.
    git.at(a.path).run("reset", "--hard", "--quiet", "--no-recurse-submodules")


def _rollback(manager: Repo, info: RunInfo, todo: list[Attempt],
              made: dict[str, set[str]], run_dir_existed: bool) -> list[str]:  # fmt: skip
    git = manager.git
    problems = []
    for a in todo:
        done = made[a.name]
        if "worktree" in done:
            r = git.run("worktree", "remove", "--force", str(a.path), locked=True, check=False)
            if not r.ok:
                problems.append(git.describe(r))
        if "branch" in done:
            r = git.run("branch", "-D", a.branch, locked=True, check=False)
            if not r.ok:
                problems.append(git.describe(r))
        if "dir" in done:
            shutil.rmtree(a.attempt_dir, ignore_errors=True)
    with manager.store() as store:
        store.delete_attempts(info.id, [(a.task_id, a.agent) for a in todo])
    if not run_dir_existed:
        rmdir_empty(info.path)
    rmdir_empty(manager.common_dir / BRANCH_PREFIX / "runs" / info.id)
    return problems


def free_slug(text: str, preferred: str, used: set[str], max_len: int) -> str:
    """``text``'s slug (or the slugged ``preferred``), with a hash appended if already used."""
    slug = slugify(preferred or text, max_len)
    n = 6
    while slug in used:
        slug = f"{slugify(text, max_len - n - 1)}-{short_hash(text, n)}"
        n += 2
    return slug


def rmdir_empty(path: Path) -> None:
    """Remove ``path`` if it is an empty folder; leave it otherwise."""
    with suppress(OSError):
        path.rmdir()
