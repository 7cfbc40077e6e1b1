"""nborch.testing: each script step becomes a call of the tool each CLI offers, in its shape."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from nborch.testing import CallTool, EditFile, Finish, ReadFile, RunCommand, WriteFile
from nborch.testing.conversation import schema_instance
from nborch.testing.tools import Unsupported, call_for
from nborch.testing.turn import Call, Tool, find_cwd, schema_tool


def tool(name: str, *params: str, types: dict[str, Any] | None = None, required: tuple[str, ...] | None = None) -> Tool:
    props = {p: {"type": "string"} for p in params} | (types or {})
    return schema_tool(name, {"type": "object", "properties": props,
                              "required": list(params if required is None else required)})  # fmt: skip


CLIENTS = {
    "claude": [tool("Read", "file_path"), tool("Write", "file_path", "content"),
               tool("Edit", "file_path", "old_string", "new_string"), tool("Bash", "command")],
    "gemini": [tool("read_file", "absolute_path"), tool("write_file", "file_path", "content"),
               tool("replace", "file_path", "old_string", "new_string"), tool("run_shell_command", "command")],
    "opencode": [tool("read", "filePath"), tool("write", "filePath", "content"),
                 tool("edit", "filePath", "oldString", "newString"), tool("bash", "command", "description")],
    "copilot": [tool("view", "path"), tool("create", "path", "file_text"),
                tool("str_replace", "path", "old_str", "new_str"), tool("bash", "command")],
    "codex": [tool("exec_command", "cmd", "workdir", required=("cmd",)),
              Tool("apply_patch", kind="custom")],
}  # fmt: skip
STEPS = [WriteFile("src/a.py", "x = 1\n"), EditFile("src/a.py", "x = 1", "x = 2"), ReadFile("src/a.py"),
         RunCommand("pytest -q")]  # fmt: skip


def calls(client: str, cwd: str | None = "/w") -> list[tuple[str, Any]]:
    out = []
    for step in STEPS:
        found = call_for(step, CLIENTS[client], "id1", cwd)
        assert isinstance(found, Call), found
        out.append((found.name, found.input if found.kind == "custom" else dict(found.arguments)))
    return out


class TestToolPicking:
    def test_claude_code(self) -> None:
        """Claude Code: Write/Edit/Read with absolute file_path, Bash with command."""
        assert calls("claude") == [
            ("Write", {"file_path": "/w/src/a.py", "content": "x = 1\n"}),
            ("Edit", {"file_path": "/w/src/a.py", "old_string": "x = 1", "new_string": "x = 2"}),
            ("Read", {"file_path": "/w/src/a.py"}),
            ("Bash", {"command": "pytest -q"}),
        ]

    def test_gemini_cli(self) -> None:
        """Gemini CLI: write_file, replace, read_file (absolute_path), run_shell_command."""
        assert [name for name, _ in calls("gemini")] == ["write_file", "replace", "read_file", "run_shell_command"]
        assert calls("gemini")[2][1] == {"absolute_path": "/w/src/a.py"}

    def test_opencode_camel_case_and_required_description(self) -> None:
        """opencode's filePath/oldString names; bash's required description gets a filler."""
        got = calls("opencode", cwd=None)
        assert got[1] == ("edit", {"filePath": "src/a.py", "oldString": "x = 1", "newString": "x = 2"})
        assert got[3] == ("bash", {"command": "pytest -q", "description": "nborch model server: run pytest -q"})

    def test_copilot(self) -> None:
        """Copilot's create (path, file_text) and str_replace (old_str, new_str)."""
        got = calls("copilot", cwd=None)
        assert got[0] == ("create", {"path": "src/a.py", "file_text": "x = 1\n"})
        assert got[1] == ("str_replace", {"path": "src/a.py", "old_str": "x = 1", "new_str": "x = 2"})

    def test_codex_apply_patch_and_exec_command(self) -> None:
        """Codex: writes and edits through apply_patch (relative paths), reads and runs by exec_command."""
        got = calls("codex")
        assert got[0] == ("apply_patch", "*** Begin Patch\n*** Add File: src/a.py\n+x = 1\n*** End Patch\n")
        assert got[1] == ("apply_patch", "*** Begin Patch\n*** Update File: src/a.py\n@@\n-x = 1\n+x = 2\n*** End Patch\n")
        assert got[2:] == [("exec_command", {"cmd": "cat src/a.py"}), ("exec_command", {"cmd": "pytest -q"})]

    def test_apply_patch_as_a_function_tool(self) -> None:
        """apply_patch offered as a function with an `input` parameter gets the patch there."""
        found = call_for(WriteFile("a", "1\n"), [tool("apply_patch", "input")], "i", None)
        assert found.kind == "function" and found.arguments == {"input": "*** Begin Patch\n*** Add File: a\n+1\n*** End Patch\n"}

    def test_shell_with_an_argv_command(self) -> None:
        """Codex's older `shell` tool takes an argv array: the command runs through bash -lc."""
        shell = tool("shell", "command", types={"command": {"type": "array", "items": {"type": "string"}}})
        assert call_for(RunCommand("make test"), [shell], "i", None).arguments == {"command": ["bash", "-lc", "make test"]}

    def test_responses_local_shell(self) -> None:
        """The Responses API's built-in local_shell tool gets a local_shell call."""
        found = call_for(RunCommand("ls"), [Tool("local_shell", kind="local_shell")], "i", None)
        assert found.kind == "local_shell" and found.arguments == {"command": ["bash", "-lc", "ls"]}

    def test_finish_calls_a_completion_tool(self) -> None:
        """Cline must call attempt_completion to stop: Finish does, with the message as result."""
        found = call_for(Finish("All done"), [tool("attempt_completion", "result")], "i", None)
        assert (found.name, found.arguments) == ("attempt_completion", {"result": "All done"})
        assert isinstance(call_for(Finish("x"), CLIENTS["claude"], "i", None), Unsupported)

    def test_call_tool_by_exact_name(self) -> None:
        """CallTool calls an offered tool as given, and explains when it is not offered."""
        found = call_for(CallTool("TodoWrite", {"todos": []}), [tool("TodoWrite", "todos")], "i", None)
        assert (found.name, found.arguments) == ("TodoWrite", {"todos": []})
        missing = call_for(CallTool("todowrite"), [tool("TodoWrite")], "i", None)
        assert missing == Unsupported("the script calls 'todowrite', which the client does not offer")

    def test_nothing_fits(self) -> None:
        """No file tool and no shell: Unsupported, naming the tools that were offered."""
        assert call_for(WriteFile("a", "b"), [tool("Glob", "pattern")], "i", None) == Unsupported(
            "no tool to write files among Glob")


@pytest.fixture
def sh(tmp_path):
    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    return run


class TestShellFallbacks:
    @pytest.mark.parametrize("content", ["no newline", "it's \"quoted\" $HOME `x` \\n\n", "ünïcode\n\n", ""])
    def test_write_through_the_shell_is_exact(self, tmp_path, sh, content) -> None:
        """The shell write (printf into the file, parent made) reproduces the content byte for byte."""
        found = call_for(WriteFile("d/e/f.txt", content), [tool("exec_command", "cmd")], "i", None)
        assert sh(found.arguments["cmd"]).returncode == 0
        assert (tmp_path / "d/e/f.txt").read_text() == content

    def test_edit_through_the_shell(self, tmp_path, sh) -> None:
        """The shell edit replaces the first occurrence; a missing old text fails with a message."""
        (tmp_path / "a.py").write_text("a = 'x'\na = 'x'\n")
        edit = call_for(EditFile("a.py", "'x'", "'y'"), [tool("Bash", "command")], "i", None)
        assert sh(edit.arguments["command"]).returncode == 0
        assert (tmp_path / "a.py").read_text() == "a = 'y'\na = 'x'\n"
        again = call_for(EditFile("a.py", "nope", "z"), [tool("Bash", "command")], "i", None)
        failed = sh(again.arguments["command"])
        assert failed.returncode != 0 and "text to replace not found" in failed.stderr


class TestHelpers:
    @pytest.mark.parametrize(("text", "cwd"), [
        ("<environment_context>\n  <cwd>/repo/wt</cwd>\n</environment_context>", "/repo/wt"),
        ("Here is useful information:\nWorking directory: /tmp/x\nIs git repo: Yes", "/tmp/x"),
        ("Primary working directory: /a/b", "/a/b"),
        ("I'm currently working in the directory: /home/u/p.", "/home/u/p"),
        ("- **Workspace Directories:**\n  - /tmp/gm/wt\n- **Directory Structure:**", "/tmp/gm/wt"),
        ("no directory here", None),
    ])  # fmt: skip
    def test_find_cwd(self, text, cwd) -> None:
        """The working directory is read from how Codex, Claude Code and Gemini CLI state it."""
        assert find_cwd(text) == cwd

    def test_schema_instance(self) -> None:
        """A minimal valid value: first enum, every property, minItems items, anyOf's first branch."""
        schema = {"type": "OBJECT", "properties": {
            "choice": {"type": "string", "enum": ["flash", "pro"]}, "n": {"type": "integer", "minimum": 2},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "maybe": {"anyOf": [{"type": "boolean"}, {"type": "null"}]}, "c": {"const": 7}}}  # fmt: skip
        assert schema_instance(schema) == {"choice": "flash", "n": 2, "tags": ["ok"], "maybe": False, "c": 7}
        # Gemini CLI's routing classifier wants a complexity_score of 1 to 100, said only in prose.
        assert schema_instance({"type": "INTEGER", "description": "Complexity score from 1-100."}) == 1
