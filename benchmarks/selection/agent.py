"""The selection benchmark's script agent: make one attempt of a case in a worktree.

    python agent.py VARIANT CASE_FOLDER WORKTREE

A patch variant (``fix``, ``alt``, ``wrong``, ``partial``, ``tamper_expected``) is applied with
``git apply``; a generic tamper is made by :mod:`tampers` from the case's failing test ids. nborch
commits what the agent leaves in the worktree after it exits.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cases import GENERIC_TAMPERS, load_case
from tampers import apply


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    variant, folder, worktree = argv[0], Path(argv[1]), Path(argv[2])
    case = load_case(folder)
    if variant in GENERIC_TAMPERS:
        apply(variant, worktree, list(case.failing))
    else:
        subprocess.run(["git", "apply", "--whitespace=nowarn", str(case.patch(variant))],
                       cwd=worktree, check=True)  # fmt: skip
    print(f"{case.name}: {variant} made")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
