"""Free-text answers with quotes, backslashes, newlines, unicode and template syntax still give a
project whose TOML, YAML, JSON and Python all parse, and the text survives intact."""

import json
import tomllib

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bake import bake, text_files

SPECIALS = st.sampled_from(
    [
        '"',
        "'",
        "\\",
        "\n",
        "\t",
        "#",
        "{{",
        "}}",
        "{%",
        "%}",
        ": ",
        "'''",
        '"""',
        "${{",
        "é",
        "😀",
        "中",
    ]
)
TEXT = st.lists(
    st.one_of(SPECIALS, st.characters(exclude_categories=("Cs", "Cc"))), max_size=25
).map("".join)
NAME = (
    st.lists(
        st.one_of(SPECIALS, st.characters(exclude_categories=("Cs", "Cc"))), min_size=1, max_size=20
    )
    .map("".join)
    .filter(lambda s: "\n" not in s and "\t" not in s and s.strip())
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(description=TEXT, author=TEXT, name=NAME)
@example(
    description='He said "hi" \\ {{ cookiecutter.x }} {% if %}: #',
    author="O'Brien\n\\n",
    name="{{ x }}",
)
def test_free_text_never_breaks_the_project(tmp_path_factory, description, author, name):
    project = bake(
        tmp_path_factory.mktemp("free"), project_name=name, project_slug="free-text",
        description=description, author_name=author,
    )  # fmt: skip
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == description
    assert pyproject["project"]["authors"][0]["name"] == author
    recorded = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["context"][
        "cookiecutter"
    ]
    assert (recorded["description"], recorded["author_name"], recorded["project_name"]) == (
        description,
        author,
        name,
    )
    for path in text_files(project):
        if path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        elif path.suffix in (".yaml", ".yml"):
            yaml.safe_load(path.read_text(encoding="utf-8"))
