"""The {{ cookiecutter.package_name }} project: its own parts, run by prodml's runtime (``project.py``)."""
