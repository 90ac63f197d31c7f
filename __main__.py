"""``python -m vecdex``: the same command line as the ``vecdex`` script."""

from .cli import run

if __name__ == "__main__":
    run()
