"""Run the command line: ``python -m todo``."""

from .cli import main

raise SystemExit(main())
