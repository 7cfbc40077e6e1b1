"""Read a plan file or text: decode it safely, pick its format, hand it to the right parser."""

from __future__ import annotations

from pathlib import Path

from .errors import PlanError
from .plan import Plan

FORMATS = ("markdown", "yaml", "toml")
_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "markdown", ".yaml": "yaml",
             ".yml": "yaml", ".toml": "toml", ".json": "json"}  # fmt: skip


def load_plan(path: str | Path, format: str | None = None) -> Plan:
    """Read and check a plan file (markdown, YAML or TOML, chosen by suffix unless ``format``).

    Raises :class:`~nborch.PlanError` naming the file and line for any defect.

    >>> plan = load_plan("plan.md")                                  # doctest: +SKIP
    >>> plan.to_frame()                                              # doctest: +SKIP
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PlanError("file not found", "check the path", path=path, line=None) from None
    except IsADirectoryError:
        raise PlanError("this is a folder, not a plan file", "name a .md, .yaml or .toml file",
                        path=path, line=None) from None  # fmt: skip
    except OSError as exc:
        raise PlanError(f"cannot read the file ({exc.strerror})", "check its permissions",
                        path=path, line=None) from None  # fmt: skip
    return parse_plan(decode(data, path), source=path, format=format)


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


def parse_plan(text: str, source: str | Path | None = None, format: str | None = None) -> Plan:
    """Parse plan text; ``source`` names it in errors and picks the format by suffix.

    >>> parse_plan("# P\\n## Task 1: Write the README\\n").tasks[0].id
    '1'
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    fmt = format or _SUFFIXES.get(Path(source).suffix.lower(), "markdown") if source else format
    fmt = fmt or "markdown"
    if fmt == "json" and format is None:
        raise PlanError("JSON plans are not read yet", "write the plan as markdown, YAML or TOML",
                        path=source, line=None)  # fmt: skip
    if fmt not in FORMATS:
        raise PlanError(f"unknown plan format {fmt!r}", f"use one of {', '.join(FORMATS)}",
                        path=source)  # fmt: skip
    where = str(source) if source is not None else None
    if not text.strip():
        raise PlanError("the plan is empty",
                        "write a title ('# My plan') and at least one task ('## Task 1: ...')",
                        path=where)  # fmt: skip
    if fmt == "yaml":
        from .plan_data import parse_yaml

        return parse_yaml(text, where)
    if fmt == "toml":
        from .plan_data import parse_toml

        return parse_toml(text, where)
    from .plan_md import parse_markdown

    return parse_markdown(text, where)
