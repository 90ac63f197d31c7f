"""One root for every error vecdex reports to a user.

Catch :class:`VecdexError` to handle anything vecdex refuses to do; each message
names the problem and, where there is one, the fix. The CLI turns these into one
line on stderr and exit 1; the server into a 4xx JSON error. Anything else that
escapes is a bug.
"""

from __future__ import annotations


class VecdexError(Exception):
    """Root of every user-facing vecdex error."""


class StoreError(VecdexError):
    """A storage problem: bad path, not a vecdex store, unknown collection, locked."""


class QueryError(VecdexError):
    """A query that cannot be answered as asked (no known words, unknown id, bad k)."""


class ModelMismatchError(VecdexError):
    """An attempt to use a collection with a different model than it was built with."""


class EmbedderError(VecdexError):
    """A problem with a model: unknown path, missing extra, bad file."""


class InputError(VecdexError):
    """An input that cannot be read at all (missing path, bad option)."""


class EvaluationError(VecdexError):
    """A benchmark or labelled file that cannot be used (names the file and line)."""


class ConfigError(VecdexError, ValueError):
    """An option that does not exist or has a bad value (index type, ranking, filter)."""


__all__ = ["ConfigError", "EmbedderError", "EvaluationError", "InputError", "ModelMismatchError",
           "QueryError", "StoreError", "VecdexError"]
