"""The base of every expected failure: something the user can fix, and the message says how.

The command line prints such an error as one line (exit status 1) instead of a traceback; an
error carrying ``details`` (a violation table, say) prints them first.
"""

from __future__ import annotations


class ProjectError(Exception):
    """An expected failure; ``str(error)`` is the one-line message."""

    details: str | None = None
