"""``python -m nborch`` runs the command line, for environments where the script is not on PATH."""

from .cli.main import main

if __name__ == "__main__":  # not when a Dask worker spawned by `nborch execute` imports it again
    main()
