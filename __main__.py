"""``python -m vecdex``: the same command line as the ``vecdex`` script."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="vecdex")
