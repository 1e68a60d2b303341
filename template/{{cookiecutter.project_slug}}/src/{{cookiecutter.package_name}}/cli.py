"""The project's command line: prodml's commands, run on this project (``project.py``).

``python -m {{ cookiecutter.package_name }} --help`` lists them; the Makefile's targets call them. A command of
your own is a Click command added to ``main``, e.g.::

    @main.command()
    def hello() -> None:
        click.echo("hello")
"""

from prodml_runtime.cli import command_line

from .project import PROJECT

main = command_line(PROJECT)
