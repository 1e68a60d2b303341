"""{{ cookiecutter.project_name }}: its parts, run by prodml's runtime (``project.py``)."""
