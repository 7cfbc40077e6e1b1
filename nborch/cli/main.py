"""The ``nborch`` command line: thin commands over the library.

Conventions for every command: ``--json`` prints machine output on stdout and nothing else there;
messages go to stderr; exit code 0 when all is well, 1 when some work did not succeed, 2 for bad
input (a bad plan, an unknown agent, a bad option). A ``NborchError`` is printed as its one-line
message, never as a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ..version import __version__
from . import compare, demo, plan, rehearse, run
from .common import EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_OK

__all__ = ["EXIT_BAD_INPUT", "EXIT_INCOMPLETE", "EXIT_OK", "main"]


class OneLineErrors(click.Group):
    """A group whose usage errors are one line on stderr (exit 2), not click's usage block."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:  # `nborch` alone: its help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "nborch"
            click.echo(f"{where}: {exc.format_message()} (see {where} --help)", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nborch")
@click.option("-v", "--verbose", count=True,
              help="Log to stderr what nborch decides and runs: -v scheduling, process starts "
                   "and kills; -vv every git command with its time too (or NBORCH_LOG=debug).")
def main(verbose: int) -> None:
    """Turn an implementation plan into parallel work by AI coding agents."""
    from ..log import configure

    configure(verbose)


for _module in (plan, run, compare, rehearse, demo):
    for _command in _module.COMMANDS:
        main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
