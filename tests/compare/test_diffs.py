"""Diff analysis on real git repositories: files, lines, functions touched, overlap, merge checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from nborch.compare.diffs import (
    UNPARSEABLE,
    DiffStat,
    FileChange,
    conflicts_between,
    diff_stat,
    functions_changed,
    merges_cleanly,
    overlap,
)
from nborch.gitcmd import Git

BASE_PY = '''\
class Greeter:
    def hello(self):
        return "hello"

    def bye(self):
        return "bye"


def old_helper():
    return 1


def kept():
    return 2


LIMIT = 10
'''


def commit(repo: Path, files: dict[str, str | bytes | None], message: str = "change") -> str:
    """Write (or delete, for None) files, commit them all and return the commit id."""
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    git = Git(repo)
    git.run("add", "-A")
    git.run("commit", "--quiet", "--no-verify", "-m", message)
    return git.out("rev-parse", "HEAD")


def branch(repo: Path, name: str, start: str = "main") -> None:
    Git(repo).run("checkout", "--quiet", "-b", name, start)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """The shared git_repo plus a Python module, a text file and a file to rename."""
    commit(git_repo, {"mod.py": BASE_PY, "notes.txt": "one\ntwo\nthree\n",
                      "moving.txt": "".join(f"line {i}\n" for i in range(20))}, "base")  # fmt: skip
    return git_repo


class TestDiffStatFiles:
    """Statuses and line counts of changed files."""

    def test_statuses(self, repo: Path) -> None:
        """Added, modified, deleted, renamed and binary files are each reported with their status."""
        moved = "".join(f"line {i}\n" for i in range(20)) + "extra\n"
        head = commit(repo, {"new.txt": "a\nb\n", "notes.txt": "one\nTWO\nthree\nfour\n",
                             "README.md": None, "moving.txt": None, "moved/here.txt": moved,
                             "blob.bin": b"\x00\x01\x02\xff" * 10})  # fmt: skip
        stat = diff_stat(repo, "HEAD~1", head)
        by_path = {f.path: f for f in stat.files}
        assert by_path["new.txt"] == FileChange("new.txt", "added", 2, 0)
        assert by_path["notes.txt"].status == "modified"
        assert by_path["README.md"].status == "deleted"
        assert by_path["moved/here.txt"].status == "renamed"
        assert by_path["moved/here.txt"].old_path == "moving.txt"
        assert by_path["blob.bin"].binary and by_path["blob.bin"].status == "added"

    def test_line_counts(self, repo: Path) -> None:
        """Insertions and deletions match git's numstat, per file and in total."""
        head = commit(repo, {"notes.txt": "one\nTWO\nthree\nfour\n", "new.txt": "a\nb\n"})
        stat = diff_stat(repo, "HEAD~1", head)
        notes = next(f for f in stat.files if f.path == "notes.txt")
        assert (notes.insertions, notes.deletions) == (2, 1)
        assert (stat.insertions, stat.deletions) == (4, 1)

    def test_no_changes(self, repo: Path) -> None:
        """Diffing a commit with itself gives no files."""
        stat = diff_stat(repo, "HEAD", "HEAD")
        assert stat.files == () and stat.functions_touched == ()


class TestFunctionsTouched:
    """Which Python functions a diff changed, added or removed."""

    def test_changed_added_removed(self, repo: Path) -> None:
        """A changed method, an added function and a removed one are named; untouched ones are not."""
        after = (BASE_PY.replace('return "bye"', 'return "goodbye"')
                 .replace("def old_helper():\n    return 1\n", "def new_helper():\n    return 3\n"))  # fmt: skip
        head = commit(repo, {"mod.py": after})
        stat = diff_stat(repo, "HEAD~1", head)
        assert stat.functions_touched == ("mod.py::Greeter.bye", "mod.py::new_helper",
                                          "mod.py::old_helper")  # fmt: skip

    def test_change_outside_functions(self, repo: Path) -> None:
        """A change to module-level code touches no function."""
        head = commit(repo, {"mod.py": BASE_PY.replace("LIMIT = 10", "LIMIT = 11")})
        stat = diff_stat(repo, "HEAD~1", head)
        assert [f.path for f in stat.files] == ["mod.py"]
        assert stat.functions_touched == ()

    def test_syntax_error(self, repo: Path) -> None:
        """A file that no longer parses is reported as unparseable, without raising."""
        head = commit(repo, {"mod.py": BASE_PY + "def broken(:\n"})
        assert diff_stat(repo, "HEAD~1", head).functions_touched == (f"mod.py::{UNPARSEABLE}",)

    def test_added_and_deleted_files(self, repo: Path) -> None:
        """Every function of an added file, and of a deleted file, counts as touched."""
        head = commit(repo, {"mod.py": None, "extra.py": "async def go():\n    pass\n"})
        touched = diff_stat(repo, "HEAD~1", head).functions_touched
        assert "extra.py::go" in touched and "mod.py::Greeter.hello" in touched

    def test_large_file_not_parsed(self, repo: Path) -> None:
        """A Python file over 1 MB is counted but its functions are not parsed."""
        big = "def f():\n    return 1\n" + "# padding\n" * 110_000
        head = commit(repo, {"big.py": big})
        stat = diff_stat(repo, "HEAD~1", head)
        assert [f.path for f in stat.files] == ["big.py"] and stat.functions_touched == ()

    def test_pure_function(self) -> None:
        """functions_changed works on plain strings and ignores parse-time warnings."""
        assert functions_changed('x = "\\d"\n', 'x = "\\d"\ndef f():\n    pass\n') == ("f",)
        assert functions_changed(None, None) == ()


class TestDisplay:
    """The record shows and serialises itself."""

    def test_repr_html_and_dict(self, repo: Path) -> None:
        """__repr__ summarises, _repr_html_ escapes paths, to_dict is plain data."""
        head = commit(repo, {"<odd>.txt": "x\n"})
        stat = diff_stat(repo, "HEAD~1", head)
        assert repr(stat).startswith("<DiffStat ") and "1 file, +1 -0" in repr(stat)
        assert "&lt;odd&gt;.txt" in stat._repr_html_() and "<odd>" not in stat._repr_html_()
        data = stat.to_dict()
        assert data["files"][0]["path"] == "<odd>.txt" and data["insertions"] == 1
        assert isinstance(DiffStat("a", "b"), DiffStat)


class TestOverlap:
    """What two branches' diffs share."""

    def test_two_branches(self, repo: Path) -> None:
        """Shared files and functions are listed, with the Jaccard index of the file sets."""
        branch(repo, "a")
        commit(repo, {"mod.py": BASE_PY.replace('"hello"', '"hi"'), "a.txt": "a\n"})
        branch(repo, "b", "main")
        commit(repo, {"mod.py": BASE_PY.replace('"hello"', '"hey"'), "b.txt": "b\n"})
        result = overlap(diff_stat(repo, "main", "a"), diff_stat(repo, "main", "b"))
        assert result.shared_files == ("mod.py",)
        assert result.shared_functions == ("mod.py::Greeter.hello",)
        assert result.jaccard == pytest.approx(1 / 3)
        assert result.to_dict()["jaccard"] == pytest.approx(1 / 3)


class TestMerges:
    """In-memory merge checks with git merge-tree."""

    @pytest.fixture
    def heads(self, repo: Path) -> Path:
        """Three branches off main: x and y edit the same line of notes.txt, z edits another file."""
        for name, files in (("x", {"notes.txt": "one\nX\nthree\n"}),
                            ("y", {"notes.txt": "one\nY\nthree\n"}),
                            ("z", {"new.txt": "z\n"})):  # fmt: skip
            branch(repo, name, "main")
            commit(repo, files)
        return repo

    def test_clean(self, heads: Path) -> None:
        """A branch merges cleanly onto its base and the merged tree is given."""
        check = merges_cleanly(heads, "main", "x")
        assert check.clean and check.conflicts == () and check.tree
        assert merges_cleanly(heads, "main", "z", onto="x").clean

    def test_conflict_names_file(self, heads: Path) -> None:
        """Two edits of the same line conflict, and the file is named."""
        check = merges_cleanly(heads, "main", "y", onto="x")
        assert not check.clean and check.conflicts == ("notes.txt",) and check.tree is None
        assert check.to_dict() == {"clean": False, "conflicts": ["notes.txt"], "tree": None}

    def test_conflicts_between_three(self, heads: Path) -> None:
        """Among three heads only the conflicting pair is reported, with its files."""
        assert conflicts_between(heads, ["x", "y", "z"]) == [("x", "y", ("notes.txt",))]
