"""Where attempts work: a git worktree, branch, prompt and agent files per attempt.

:class:`~.manager.WorktreeManager` is the facade over :mod:`.create`, :mod:`.commit`,
:mod:`.status`, :mod:`.heads` and :mod:`.cleanup`; :mod:`.records` holds their data and
:mod:`.prepare` turns assignments into prepared attempts (prompts from :mod:`.prompts`).
"""
