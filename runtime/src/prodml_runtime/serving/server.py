"""``serve``: the project's API on its framework's server (``server_fastapi``: uvicorn, or
``server_flask``: gevent), each imported only when it serves."""

from __future__ import annotations

from ..core.errors import ProjectError
from ..project import Project


def serve(project: Project, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run ``project``'s API until it is stopped."""
    if project.serving == "fastapi":
        from .server_fastapi import serve as run
    elif project.serving == "flask":
        from .server_flask import serve as run
    else:
        raise ProjectError(f"{project.name} has no API (serving: none)")
    run(project, host, port)
