"""A disk that fills up during a run, for real: the repository, the store and the worktrees on an
8 MiB tmpfs, mounted in a user and mount namespace of its own (``unshare -rm``, no privileges
needed where the kernel allows unprivileged user namespaces), and agents that fill it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FILL = """\
import pathlib, sys
wt = pathlib.Path(sys.argv[1])
(wt / "work.txt").write_text("kept")
with open(wt / "big.bin", "wb") as f:
    try:
        while True:
            f.write(b"x" * 65536)
            f.flush()
    except OSError as err:
        print("agent: the disk is full", err)
"""

SCRIPT = """\
set -e
mount -t tmpfs -o size=8m tmpfs "$MNT"
git init -q -b main "$MNT/repo"
cd "$MNT/repo"
git config user.name T && git config user.email t@example.invalid
echo hi > a.txt && git add -A && git commit -qm init
printf '# P\\n## Task 1: A\\n## Task 2: B\\n' > "$MNT/plan.md"
set +e
"$PY" -m nborch execute "$MNT/plan.md" -r "$MNT/repo" --script "fill=$PY $FILL {{worktree}}" \\
    --agents fill --root "$MNT/wt" -t 60s --json > "$OUT/execute.json" 2> "$OUT/execute.err"
echo $? > "$OUT/execute.rc"
rm -f "$MNT"/wt/*/*/big.bin
"$PY" -m nborch cleanup -r "$MNT/repo" > "$OUT/cleanup.out" 2>&1
echo $? > "$OUT/cleanup.rc"
for b in $(git branch --list 'nborch/*' --format='%(refname:short)'); do
    git show "$b:work.txt" >> "$OUT/saved.txt"; echo >> "$OUT/saved.txt"
done
"""


def namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                           capture_output=True)  # fmt: skip
    return probe.returncode == 0


@pytest.mark.skipif(sys.platform != "linux" or not namespaces_work(),
                    reason="needs Linux with unprivileged user namespaces (unshare -rm)")  # fmt: skip
class DiskFullTests:
    def test_a_full_disk_fails_the_attempts_with_the_reason_and_ends_the_run(self, tmp_path: Path) -> None:
        """Both agents fill the disk. The run ends (no traceback, exit 1) with both attempts
        failed because their work could not be committed, says which results the store could
        not record, and once space is freed `nborch cleanup` saves each worktree's work as WIP."""
        mnt, out = tmp_path / "mnt", tmp_path / "out"
        mnt.mkdir()
        out.mkdir()
        fill = tmp_path / "fill.py"
        fill.write_text(FILL)
        env = {"MNT": str(mnt), "OUT": str(out), "PY": sys.executable, "FILL": str(fill),
               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NBORCH_AGENT_PATH": ""}  # fmt: skip
        done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "bash", "-c",
                               textwrap.dedent(SCRIPT).replace("{{", "{").replace("}}", "}")],
                              env=env, capture_output=True, text=True, timeout=240)  # fmt: skip
        assert done.returncode == 0, done.stderr
        err = (out / "execute.err").read_text()
        assert (out / "execute.rc").read_text().strip() == "1", err
        assert "Traceback" not in err
        report = json.loads((out / "execute.json").read_text())
        assert [a["status"] for a in report["attempts"]] == ["failed", "failed"]
        for attempt in report["attempts"]:
            # (the agent itself may have failed too, when the other one filled the disk first)
            assert attempt["error"].startswith("the disk is full: the attempt's work could not be "
                                               "committed "), attempt["error"]  # fmt: skip
            assert " and is still in " in attempt["error"]
        assert "could not be recorded" in report["unrecorded"]
        assert "the disk is full" in report["unrecorded"]
        assert "warning: " in err and "could not be recorded" in err
        assert (out / "cleanup.rc").read_text().strip() == "0", (out / "cleanup.out").read_text()
        assert "kept" in (out / "saved.txt").read_text()
