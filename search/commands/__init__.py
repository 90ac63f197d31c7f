"""The ``vecdex`` commands, grouped by job and registered on the group in :mod:`vecdex.cli`."""
