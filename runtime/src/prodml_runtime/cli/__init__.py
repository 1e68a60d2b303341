"""A project's command line (``python -m <package> --help``): the runtime's commands, run on the
project ``command_line`` is given.

Every expected failure (missing file, invalid data, no model yet: a ``ProjectError``), fault of
the machine (a full disk, an unwritable folder, a locked database) and missing optional package
ends with a one-line reason and exit status 1, never a traceback. Heavy libraries are imported
inside commands, and the project's parts when a command first needs them."""

from __future__ import annotations

import click

from ..project import Project
from . import commands
from .common import Commands
from .schema import schema


def command_line(project: Project) -> click.Group:
    """The command group of ``project``: ``serve`` when it serves, ``--engine`` on ``predict``
    and ``monitor`` when it has a cluster engine."""
    group = Commands(
        name=project.name,
        help="Train, validate, register and serve a tabular model defined by configs/schema.yaml.",
        context_settings={"obj": project},
    )
    for command in commands.COMMANDS:
        group.add_command(command)
    if project.serving != "none":
        group.add_command(commands.serve)
    group.add_command(schema)
    from ..bench import bench_group

    group.add_command(bench_group(project))
    if project.engine != "local":
        from .engine import add_engine

        add_engine(group, project.engine)
    return group
