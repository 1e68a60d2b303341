"""Jinja filters for the prodml template (loaded by cookiecutter through ``_extensions``)."""

from jinja2.ext import Extension

_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_str(value: object) -> str:
    """Render ``value`` as a TOML basic string, quotes included, whatever characters it holds."""
    out = []
    for char in str(value):
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


class TomlExtension(Extension):
    """Adds the ``toml_str`` filter."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["toml_str"] = toml_str
