"""This project as prodml's runtime runs it: its data file, options, and the modules that are its
own. Each part is named ``module:attribute`` and imported when a command first needs it:

- ``models.py``: the model families training tunes, and their search spaces;
- ``features.py``: derived features, plain functions registered by name;
{%- if cookiecutter.serving != "none" %}
- ``api.py``: what the API answers for each record;
{%- endif %}
- ``checks.py``: the monitoring checks of this project's own.

Everything else (validation, training, the registry, batch scoring, monitoring{% if cookiecutter.serving != "none" %}, serving{% endif %}) is
the runtime's, pinned in ``pyproject.toml``.
"""

from pathlib import Path

from prodml_runtime.project import Project

PROJECT = Project(
    name="{{ cookiecutter.package_name }}",
    data=Path("data/raw/{{ cookiecutter.dataset }}"),
    models="{{ cookiecutter.package_name }}.models:MODELS",
    features="{{ cookiecutter.package_name }}.features:FEATURES",
{%- if cookiecutter.serving != "none" %}
    answer="{{ cookiecutter.package_name }}.api:Answer",
{%- endif %}
    checks="{{ cookiecutter.package_name }}.checks:CHECKS",
    serving="{{ cookiecutter.serving }}",
    engine="{{ cookiecutter.engine }}",
    tracking="{{ cookiecutter.tracking }}",
)
