"""Read a plan file or text: decode it safely, pick its format, hand it to the right parser.

Formats: nborch's own ``markdown``, ``yaml`` and ``toml``, and plans other tools wrote —
``speckit``, ``kiro``, ``taskmaster`` and ``handwritten`` (:mod:`nborch.plan.formats`). Without
``format=`` the file name and the content decide (:func:`nborch.plan.formats.detect.detect_format`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import PlanError
from .model import Plan

FORMATS = ("markdown", "yaml", "toml", "speckit", "kiro", "taskmaster", "handwritten")


def load_plan(path: str | Path, format: str | None = None, split_subtasks: bool = False) -> Plan:
    """Read and check a plan file.

    Parameters
    ----------
    path:
        The plan file: markdown, YAML, TOML, a spec-kit or Kiro ``tasks.md``, a Taskmaster
        ``tasks.json`` or a hand-written ``PLAN.md``/``TODO.md``.
    format:
        One of :data:`FORMATS` to skip detection from the file name and content.
    split_subtasks:
        Make every sub-task of a spec-kit, Kiro, Taskmaster or hand-written plan a task of its own
        (its parent then depends on it) instead of a key activity of its parent.

    Raises :class:`~nborch.PlanError` naming the file and line for any defect.

    >>> plan = load_plan("plan.md")                                  # doctest: +SKIP
    >>> plan.to_frame()                                              # doctest: +SKIP
    """
    path = Path(path)
    try:
        data = _read(path)
    except FileNotFoundError:
        raise PlanError("file not found", "check the path", path=path, line=None) from None
    except IsADirectoryError:
        raise PlanError("this is a folder, not a plan file", "name a .md, .yaml or .toml file",
                        path=path, line=None) from None  # fmt: skip
    except OSError as exc:
        raise PlanError(f"cannot read the file ({exc.strerror})", "check its permissions",
                        path=path, line=None) from None  # fmt: skip
    return parse_plan(decode(data, path), source=path, format=format, split_subtasks=split_subtasks)


MAX_PLAN_BYTES = 50 * 1024 * 1024  # a 5,000-task plan is ~3 MB


def _read(path: Path) -> bytes:
    """The file's bytes: a regular file of at most :data:`MAX_PLAN_BYTES`, checked before reading
    (a FIFO would block, ``/dev/zero`` never ends)."""
    import stat

    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                else "a folder" if stat.S_ISDIR(info.st_mode) else "special")  # fmt: skip
        if kind == "a folder":
            raise IsADirectoryError(path)
        raise PlanError(f"this is not a regular file ({kind})", "name a .md, .yaml or .toml file",
                        path=path, line=None)  # fmt: skip
    with path.open("rb") as f:
        data = f.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError(f"the file is larger than {MAX_PLAN_BYTES // 2**20} MB; plans are text "
                        "of a few MB at most", "name the plan file, not a data file", path=path,
                        line=None)  # fmt: skip
    return data


def decode(data: bytes, path: str | Path | None = None) -> str:
    """UTF-8 text with any BOM removed and line endings made ``\\n``; binary data is refused."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise PlanError("the file is UTF-16 text", "save it as UTF-8", path=path)
    if b"\x00" in data[:8192]:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise PlanError("this is a binary file, not a plan",
                        "give a markdown, YAML or TOML text file", path=path, line=line)  # fmt: skip
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanError(f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                        "save it as UTF-8", path=path, line=line) from None  # fmt: skip
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_plan(
    text: str,
    source: str | Path | None = None,
    format: str | None = None,
    split_subtasks: bool = False,
) -> Plan:
    """Parse plan text; ``source`` names it in errors and, with the content, picks the format.

    ``format`` and ``split_subtasks`` are as for :func:`load_plan`.

    >>> parse_plan("# P\\n## Task 1: Write the README\\n").tasks[0].id
    '1'
    >>> parse_plan("- [ ] T001 Create the project structure\\n").format
    'speckit'
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    fmt = format
    if fmt is None:
        from .formats.detect import detect_format

        fmt = detect_format(text, source)
    if fmt not in FORMATS:
        raise PlanError(f"unknown plan format {fmt!r}", f"use one of {', '.join(FORMATS)}",
                        path=source)  # fmt: skip
    where = str(source) if source is not None else None
    if not text.strip():
        fix = ("write Taskmaster's {\"master\": {\"tasks\": [...]}}" if fmt == "taskmaster" else
               "write a title ('# My plan') and at least one task ('## Task 1: ...')")
        raise PlanError("the plan is empty", fix, path=where)
    try:
        return _parse(text, where, fmt, split_subtasks)
    except RecursionError:  # each reader catches its own; this is the net under all of them
        raise PlanError("the plan is nested too deeply to read", "flatten its nested lists",
                        path=where) from None  # fmt: skip


def _parse(text: str, where: str | None, fmt: str, split_subtasks: bool) -> Plan:
    if fmt in ("speckit", "kiro", "taskmaster", "handwritten"):
        from .formats import PARSERS

        return PARSERS[fmt](text, where, split_subtasks)
    if fmt == "yaml":
        from .data import parse_yaml

        return parse_yaml(text, where)
    if fmt == "toml":
        from .data import parse_toml

        return parse_toml(text, where)
    from .markdown import parse_markdown

    return parse_markdown(text, where)
