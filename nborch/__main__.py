"""``python -m nborch`` runs the command line, for environments where the script is not on PATH."""

from .cli.main import main

main()
