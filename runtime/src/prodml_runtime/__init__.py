"""prodml's runtime: what every project prodml generates runs on.

A project composes its own parts (model families, derived features, the API's answer, its
monitoring checks) into a ``project.Project`` and hands it to ``cli.command_line``; everything
else (validation, training, the registry, batch scoring, monitoring, serving) lives here.
"""

__version__ = "0.2.0"
