"""The prodml command line: every flag, every refusal, and generation as a transaction."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest
import yaml
from click.testing import CliRunner

from bake import ROOT, tree
from prodml import __version__, generate, layout
from prodml.cli import main
from prodml.options import OPTIONS


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_version_and_help():
    assert run("--version").output.strip() == f"prodml, version {__version__}"
    result = run("--help")
    assert result.exit_code == 0 and "new" in result.output and "options" in result.output


def test_options_lists_every_question_in_every_format():
    text = run("options").output
    assert all(o.name in text for o in OPTIONS)
    assert "applies when: serving is not none" in text
    rows = json.loads(run("options", "--format", "json").output)
    assert [r["name"] for r in rows] == [o.name for o in OPTIONS]
    docker = next(r for r in rows if r["name"] == "docker")
    assert docker["choices"] == ["yes", "no"] and docker["applies_when"] == "serving is not none"
    assert run("options", "--format", "markdown").output.startswith("| option |")


def test_new_no_input_creates_a_committed_project(tmp_path):
    result = run("new", "--no-input", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    project = tmp_path / "churn-model"
    assert (project / "src" / "churn_model" / "api.py").is_file()
    assert (project / "vendor" / f"prodml_runtime-{__version__}-py3-none-any.whl").is_file()
    log = subprocess.run(["git", "log", "--oneline"], cwd=project, capture_output=True, text=True)
    assert log.stdout.count("\n") == 1 and "Initial commit from prodml" in log.stdout
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    )
    assert status.stdout == "", "everything generated is committed"
    assert [p.name for p in tmp_path.iterdir()] == ["churn-model"], "no staging directory left"


def test_name_and_set_and_no_git(tmp_path):
    result = run(
        "new", "Fraud Model", "--no-input", "--no-git", "--set", "serving=flask",
        "--set", "problem_type=regression", "-o", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    project = tmp_path / "fraud-model"
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["project_name"] == "Fraud Model"
    assert recorded["serving"] == "flask" and recorded["problem_type"] == "regression"
    assert 'serving="flask"' in (project / "src" / "fraud_model" / "project.py").read_text()
    assert not (project / ".git").exists()


def test_serving_none_drops_the_api_and_docker(tmp_path):
    result = run("new", "--no-input", "--no-git", "--set", "serving=none", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    names = listing(tmp_path / "churn-model")
    assert not any(n.endswith("api.py") or "Dockerfile" in n for n in names)
    assert "Dockerfile" not in names


def test_config_file_sets_team_defaults_and_set_wins(tmp_path):
    config = tmp_path / "team.yaml"
    config.write_text(
        "python_version: 3.10\nci: gitlab\nserving: flask\nauthor_name: 'Data: Team #1'\n"
    )
    out = tmp_path / "out"
    result = run(
        "new", "--no-input", "--no-git", "--config", config, "--set", "serving=fastapi", "-o", out
    )
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "churn-model" / ".cruft.json").read_text())["context"][
        "cookiecutter"
    ]
    assert recorded["python_version"] == "3.10", "3.10 must stay a string, not the float 3.1"
    assert (recorded["ci"], recorded["serving"], recorded["author_name"]) == (
        "gitlab",
        "fastapi",
        "Data: Team #1",
    )
    assert (out / "churn-model" / ".gitlab-ci.yml").is_file()


def test_config_in_cookiecutter_user_config_form(tmp_path):
    config = tmp_path / "cookiecutterrc.yaml"
    config.write_text("default_context:\n  env_manager: pip\n")
    result = run("new", "--no-input", "--no-git", "--config", config, "-o", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert '"env_manager": "pip"' in (tmp_path / "o" / "churn-model" / ".cruft.json").read_text()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("serving: [fastapi\n", "cannot read it as YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("servng: flask\n", "unknown option 'servng': did you mean 'serving'?"),
        ("serving: tornado\n", "serving='tornado' is not valid"),
    ],
)
def test_bad_config_is_refused(tmp_path, content, fragment):
    config = tmp_path / "team.yaml"
    config.write_text(content)
    result = run("new", "--no-input", "--config", config, "-o", tmp_path / "out")
    assert result.exit_code == 2 and fragment in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("package_name=pandas", "package_name='pandas' is not valid"),
        ("package_name=import", "keyword"),
        ("package_name=os", "standard library"),
        ("project_slug=My Project", "project_slug='My Project' is not valid"),
        ("author_email=nobody", "author_email='nobody' is not valid"),
        ("license=WTFPL", "one of MIT, Apache-2.0, BSD-3-Clause, Proprietary"),
        ("python_version=2.7", "python_version='2.7' is not valid"),
        ("problem_type=clustering", "problem_type='clustering' is not valid"),
        ("serving=django", "serving='django' is not valid"),
        ("ci=jenkins", "ci='jenkins' is not valid"),
        ("env_manager=conda", "env_manager='conda' is not valid"),
        ("docker=maybe", "docker='maybe' is not valid"),
        ("year=next", "year='next' is not valid"),
        ("colour=blue", "unknown option 'colour'"),
    ],
)
def test_every_bad_answer_exits_2_and_writes_nothing(tmp_path, setting, fragment):
    result = run("new", "--no-input", "--set", setting, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "nothing was written" in result.output
    assert not (tmp_path / "out").exists()


def test_incompatible_combination_is_refused(tmp_path):
    result = run(
        "new", "--no-input", "--set", "serving=none", "--set", "docker=yes", "-o", tmp_path
    )
    assert result.exit_code == 2
    assert "docker='yes' does not apply unless serving is not none" in result.output
    assert listing(tmp_path) == []


def test_malformed_set_is_a_usage_error(tmp_path):
    result = run("new", "--no-input", "--set", "serving", "-o", tmp_path)
    assert result.exit_code == 2 and "is not KEY=VALUE" in result.output


def test_existing_directory_is_left_alone_without_force(tmp_path):
    (tmp_path / "churn-model").mkdir()
    (tmp_path / "churn-model" / "keep.txt").write_text("mine")
    result = run("new", "--no-input", "-o", tmp_path)
    assert (
        result.exit_code == 1 and "already exists" in result.output and "--force" in result.output
    )
    assert listing(tmp_path) == ["churn-model", "churn-model/keep.txt"]


def test_force_replaces_an_existing_directory(tmp_path):
    (tmp_path / "churn-model").mkdir()
    (tmp_path / "churn-model" / "old.txt").write_text("old")
    result = run("new", "--no-input", "--no-git", "--force", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "churn-model" / "old.txt").exists()
    assert (tmp_path / "churn-model" / "README.md").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["churn-model"]


def test_unwritable_output_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run("new", "--no-input", "-o", blocker / "sub")
    assert result.exit_code == 1 and "cannot write to output directory" in result.output
    assert listing(tmp_path) == ["a-file"]


def test_dry_run_prints_the_tree_and_writes_nothing(tmp_path):
    result = run("new", "--no-input", "--dry-run", "--set", "ci=gitlab", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("churn-model/")
    wheel = f"prodml_runtime-{__version__}-py3-none-any.whl"
    for expected in ("README.md", ".gitlab-ci.yml", "api.py", "Dockerfile", ".cruft.json", wheel):
        assert any(line.strip() == expected for line in lines), expected
    assert not any(line.strip() == "ci.yml" for line in lines)
    assert "nothing was written" in result.output
    assert not (tmp_path / "out").exists()


def test_replay_regenerates_an_identical_tree(tmp_path):
    description = 'Say "hi" \\ #1: {{ x }}\nline two'
    given = ["--set", "problem_type=multiclass_classification", "--set", "serving=flask",
             "--set", f"description={description}", "--set", "license=Apache-2.0"]  # fmt: skip
    assert (
        run(
            "new", "Ticket Router", "--no-input", "--no-git", *given, "-o", tmp_path / "a"
        ).exit_code
        == 0
    )
    first = tmp_path / "a" / "ticket-router"
    result = run("new", "--replay", first, "--no-git", "-o", tmp_path / "b")
    assert result.exit_code == 0, result.output
    assert tree(first) == tree(tmp_path / "b" / "ticket-router")
    result = run("new", "--replay", first / ".cruft.json", "--no-git", "-o", tmp_path / "c")
    assert tree(first) == tree(tmp_path / "c" / "ticket-router")


def test_replay_refuses_extra_answers_and_bad_files(tmp_path):
    assert run("new", "x", "--replay", tmp_path).exit_code == 2
    result = run("new", "--replay", tmp_path, "-o", tmp_path / "out")
    assert result.exit_code == 2 and ".cruft.json not found" in result.output
    bad = tmp_path / "answers.json"
    bad.write_text("{not json")
    result = run("new", "--replay", bad, "-o", tmp_path / "out")
    assert result.exit_code == 2 and "is not a prodml answers file" in result.output
    assert not (tmp_path / "out").exists()


def test_interactive_prompts_show_help_reask_bad_answers_and_skip_what_does_not_apply(tmp_path):
    # Enter for everything except: serving answered wrong, then none (so docker is not asked).
    answers_in = {"serving": "django\nnone"}
    lines = [answers_in.get(o.name, "") for o in OPTIONS if o.name != "docker"]
    result = run("new", "--no-git", "-o", tmp_path, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert "HTTP framework for the prediction API" in result.output
    assert "serving='django' is not valid" in result.output
    assert "docker" not in result.output.split("serving (")[-1]
    recorded = json.loads((tmp_path / "churn-model" / ".cruft.json").read_text())["context"][
        "cookiecutter"
    ]
    assert (recorded["serving"], recorded["docker"]) == ("none", "no")


def test_a_failing_post_generation_step_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(layout, "arrange", broken)
    result = run("new", "--no-input", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert not (tmp_path / "out").exists()


def test_generation_leaves_no_hook_script_in_the_temporary_folder(tmp_path):
    """cookiecutter writes each hook it runs to the temporary folder and never deletes it:
    prodml runs what the hooks do itself, so nothing is left there (not even the answers)."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary)}
    for command in (["new", "--no-input", "-o", tmp_path], ["update", tmp_path / "churn-model"]):
        result = subprocess.run(
            [Path(sys.executable).parent / "prodml", *map(str, command)],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert list(temporary.iterdir()) == [], command


def test_a_rerun_removes_the_staging_a_killed_generation_left(tmp_path):
    """kill -9 mid-generation leaves its staging directory; the next prodml new in that output
    directory removes it (its writer is gone), and leaves a live one's alone."""
    script = (
        "import sys, time; from prodml import layout; from prodml.cli import main\n"
        "def slow(*args): open(sys.argv[1], 'w').close(); time.sleep(60)\n"
        "layout.arrange = slow\n"
        "main(['new', '--no-input', '--no-git', '--no-lock', '-o', sys.argv[2]])\n"
    )
    marker, out = tmp_path / "started", tmp_path / "out"
    killed = subprocess.Popen([sys.executable, "-c", script, marker, out])
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert killed.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    killed.kill()
    killed.wait()
    assert [p.name.startswith(".prodml-") for p in out.iterdir()] == [True]
    live = out / f".prodml-{os.getpid()}-mine"
    live.mkdir()
    assert run("new", "--no-input", "--no-git", "--no-lock", "-o", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, "churn-model"])


def test_interrupt_mid_generation_restores_the_previous_tree(tmp_path, monkeypatch):
    (tmp_path / "churn-model").mkdir()
    (tmp_path / "churn-model" / "old.txt").write_text("old")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "init_git", interrupted)
    result = run("new", "--no-input", "--force", "-o", tmp_path)
    assert result.exit_code == 1  # Click reports Aborted!
    assert listing(tmp_path) == ["churn-model", "churn-model/old.txt"]


def test_sigterm_mid_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    """A SIGTERM while the project is being arranged (as a service manager or CI timeout sends
    it): exit 143, no staging directory, no half-made project, and the output directory prodml
    made is gone."""
    arrange = layout.arrange

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        arrange(*args, **kwargs)

    monkeypatch.setattr(layout, "arrange", terminated)
    result = run("new", "--no-input", "-o", tmp_path / "out")
    assert result.exit_code == 143
    assert not (tmp_path / "out").exists()


def test_an_installed_template_gives_no_bytecode_to_projects(tmp_path, monkeypatch):
    """pip byte-compiles the packaged template on install: none of it reaches a project."""
    import compileall

    template = tmp_path / "template"
    shutil.copytree(ROOT / "template", template, symlinks=False)
    compileall.compile_dir(template, quiet=2)  # files with Jinja do not compile: others do
    assert list(template.rglob("*.pyc")), "the installed-template situation is reproduced"
    monkeypatch.setattr(generate, "template_dir", lambda: template)
    result = run("new", "--no-input", "--no-git", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    project = tmp_path / "out" / "churn-model"
    assert [p for p in project.rglob("*") if "__pycache__" in p.parts or p.suffix == ".pyc"] == []


def test_shell_completion_offers_option_names_and_choices():
    env = {**os.environ, "_PRODML_COMPLETE": "bash_complete", "COMP_CWORD": "3"}
    names = subprocess.run(
        [sys.executable, "-m", "prodml"], env={**env, "COMP_WORDS": "prodml new --set serv"},
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "serving=" in names
    values = subprocess.run(
        [sys.executable, "-m", "prodml"], env={**env, "COMP_WORDS": "prodml new --set serving=f"},
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "serving=fastapi" in values and "serving=flask" in values


def test_usage_error_exit_status_is_2():
    assert run("new", "--no-such-flag").exit_code == 2
    assert run("frobnicate").exit_code == 2


def cookiecutter_cli(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Plain cookiecutter on the source template, from a venv where prodml is not installed."""
    command = [
        venv / "bin" / "python",
        "-m",
        "cookiecutter",
        ROOT / "template",
        "--no-input",
        *args,
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


def test_plain_cookiecutter_without_prodml_installed_runs_the_hooks(tmp_path, bare_venv):
    probe = [bare_venv / "bin" / "python", "-c", "import prodml.options"]
    assert subprocess.run(probe, capture_output=True).returncode != 0, (
        "prodml must not be importable"
    )
    out = tmp_path / "out"
    result = cookiecutter_cli(bare_venv, "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = out / "churn-model"
    assert (project / "src" / "churn_model" / "models.py").is_file(), (
        "post-gen hook picked the variant"
    )
    assert not (project / "src" / "churn_model" / "models_regression.py").exists()
    assert (project / "vendor" / f"prodml_runtime-{__version__}-py3-none-any.whl").is_file()
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert recorded["_template_version"] == __version__ and recorded["serving"] == "fastapi"


def test_plain_cookiecutter_refuses_bad_answers_and_writes_nothing(tmp_path, bare_venv):
    out = tmp_path / "out"
    result = cookiecutter_cli(bare_venv, "-o", str(out), "package_name=sklearn", cwd=tmp_path)
    assert result.returncode != 0
    assert "package_name='sklearn' is not valid" in result.stderr
    assert listing(out) == []


@pytest.fixture
def penguins(tmp_path) -> Path:
    """A real-shaped file: an id, free text, 'NA' for missing, dates, a boolean, unlabelled
    rows and an integer target coded as text labels."""
    rng = numpy.random.default_rng(3)
    rows = 240
    lines = ["penguin_id,nickname,species,island,bill_mm,mass_g,tagged,seen_on,sex"]
    for i in range(rows):
        bill = "NA" if i % 17 == 0 else f"{rng.normal(44, 5):.1f}"
        sex = "" if i % 23 == 0 else ("female", "male")[int(rng.integers(2))]
        lines.append(
            f"P{i:04d},bird {i} {rng.integers(10**6)},{('Adelie', 'Gentoo', 'Chinstrap')[i % 3]},"
            f"{('Biscoe', 'Dream', 'Torgersen')[int(rng.integers(3))]},{bill},"
            f"{rng.normal(4200, 600):.0f},{('true', 'false')[i % 2]},"
            f"2024-0{1 + i % 9}-1{i % 10},{sex}"
        )
    path = tmp_path / "penguins.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_new_with_data_infers_an_explained_schema_and_ships_the_file(tmp_path, penguins):
    result = run("new", "Penguins", "--no-input", "--no-git", "-o", tmp_path / "out",
                 "--data", penguins, "--target", "species")  # fmt: skip
    assert result.exit_code == 0, result.output
    project = tmp_path / "out" / "penguins"
    assert (project / "data" / "raw" / "penguins.csv").read_bytes() == penguins.read_bytes()
    text = (project / "configs" / "schema.yaml").read_text(encoding="utf-8")
    schema = yaml.safe_load(text)
    columns = {c["name"]: c for c in schema["columns"]}
    assert schema["problem_type"] == "multiclass_classification"
    assert schema["id"] == "penguin_id" and schema["na_values"] == ["NA"]
    assert columns["species"]["categories"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert columns["nickname"]["role"] == "ignored"
    assert columns["seen_on"] == {
        "name": "seen_on",
        "type": "datetime",
        "nullable": True,
        "as_of": "2024-09-19",
    }
    assert columns["bill_mm"] == {"name": "bill_mm", "type": "numeric", "nullable": True, "min": 0}
    assert columns["tagged"]["type"] == "boolean"
    assert columns["sex"]["nullable"] and columns["island"]["type"] == "categorical"
    assert "# categorical: 3 distinct values in 240 rows" in text
    recorded = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["context"]
    assert recorded["cookiecutter"]["dataset"] == "penguins.csv"
    assert recorded["cookiecutter"]["problem_type"] == "multiclass_classification"
    assert "DATA ?= data/raw/penguins.csv" in (project / "Makefile").read_text(encoding="utf-8")
    card = (project / "docs" / "data-card.md").read_text(encoding="utf-8")
    assert card.startswith("# Data card: penguins.csv") and "| `nickname` | ignored |" in card


def test_new_with_data_into_the_current_directory(tmp_path, penguins, monkeypatch):
    """Relative paths (the default output directory, a relative --data): as a user types them."""
    monkeypatch.chdir(penguins.parent)
    result = run("new", "here", "--no-input", "--no-git", "--no-lock", "--data", penguins.name,
                 "--target", "species")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "here" / "data" / "raw" / "penguins.csv").is_file()
    assert not list(tmp_path.glob(".prodml-*")), "no staging left behind"


def test_a_data_file_named_as_users_name_them_is_shipped_under_a_name_make_takes(
    tmp_path, penguins
):
    """Spaces, brackets and an upper-case extension, as spreadsheets and downloads name files."""
    exported = penguins.rename(penguins.with_name("Penguins export (2).CSV"))
    result = run("new", "p", "--no-input", "--no-git", "--no-lock", "-o", tmp_path / "out",
                 "--data", exported, "--target", "species")  # fmt: skip
    assert result.exit_code == 0, result.output
    project = tmp_path / "out" / "p"
    shipped = project / "data" / "raw" / "Penguins-export-2.csv"
    assert shipped.read_bytes() == exported.read_bytes()
    assert "DATA ?= data/raw/Penguins-export-2.csv" in (project / "Makefile").read_text()


def test_a_european_export_without_target_lists_its_columns(tmp_path):
    """';' between cells and Windows' code page, as Excel saves a CSV in a European locale."""
    export = tmp_path / "kunden.csv"
    export.write_bytes("stadt;größe;preis\nKöln;1,5;3\n".encode("cp1252"))
    result = run("new", "k", "--no-input", "-o", tmp_path / "out", "--data", export)
    assert result.exit_code == 2, result.output
    assert "--data needs --target: one of stadt, größe, preis" in result.output
    assert not (tmp_path / "out").exists()


def test_a_data_file_neither_csv_nor_parquet_is_refused_saying_how_to_read_it(tmp_path, penguins):
    tabbed = penguins.with_suffix(".tsv")
    tabbed.write_text(penguins.read_text().replace(",", "\t"))
    result = run("new", "p", "--no-input", "-o", tmp_path / "out", "--data", tabbed,
                 "--target", "species")  # fmt: skip
    assert result.exit_code == 2 and "Usage:" not in result.output, result.output
    assert "reads .csv and .parquet files" in result.output and "penguins.csv" in result.output
    assert not (tmp_path / "out").exists()


def test_new_with_data_renders_the_inferred_problem_type_unless_told(tmp_path, penguins):
    result = run("new", "mass", "--no-input", "--no-git", "-o", tmp_path, "--data", penguins,
                 "--target", "mass_g")  # fmt: skip
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / "mass" / ".cruft.json").read_text(encoding="utf-8"))
    assert recorded["context"]["cookiecutter"]["problem_type"] == "regression"
    assert "RMSE" in (tmp_path / "mass" / "configs" / "train.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--target", "specie"], "no column 'specie' (did you mean 'species'?)"),
        ([], "--data needs --target: one of penguin_id, nickname, species"),
        (["--target", "species", "--problem-type", "regression"], "needs a numeric target"),
        (["--target", "species", "--id", "island"], "an id must be present and unique"),
    ],
)
def test_data_that_fits_no_schema_exits_2_and_writes_nothing(tmp_path, penguins, args, fragment):
    result = run("new", "p", "--no-input", "-o", tmp_path / "out", "--data", penguins, *args)
    assert result.exit_code == 2 and fragment in result.output, result.output
    assert not (tmp_path / "out").exists()
    # A data problem is the data's, not the command line's: no usage banner pointing at it.
    assert ("Usage:" in result.output) == ("--target" not in args), result.output


def test_data_options_without_data_are_a_usage_error(tmp_path):
    result = run("new", "--no-input", "-o", tmp_path, "--target", "y")
    assert result.exit_code == 2 and "go with --data" in result.output
    assert listing(tmp_path) == []


def test_interactive_new_with_data_asks_for_the_target_among_the_columns(tmp_path, penguins):
    answers = "\n" * 4 + "\n".join(["nope", "species"]) + "\n" * 20
    result = run("new", "birds", "-o", tmp_path, "--no-git", "--data", penguins, input=answers)
    assert result.exit_code == 0, result.output
    assert "nope" in result.output and "is not one of" in result.output
    assert 'target: "species"' in (tmp_path / "birds" / "configs" / "schema.yaml").read_text()


def test_new_with_data_offers_a_way_forward_for_rare_classes_and_shows_inference_notes(
    tmp_path, penguins
):
    """A class too rare for cross-validation: refused naming --rare-classes; dropped with it.
    What inference changed (stray whitespace read away) is said, not only written."""
    rare = tmp_path / "rare.csv"
    lines = penguins.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",Adelie,", ",Emperor,")
    lines[2] = lines[2].replace(",Gentoo,", ", Gentoo ,")
    rare.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = [
        "new",
        "r",
        "--no-input",
        "--no-git",
        "--no-lock",
        "--data",
        rare,
        "--target",
        "species",
    ]
    refused = run(*args, "-o", tmp_path / "refused")
    assert refused.exit_code == 2 and "--rare-classes" in refused.output, refused.output
    assert not (tmp_path / "refused").exists()
    dropped = run(*args, "-o", tmp_path / "out", "--rare-classes", "drop")
    assert dropped.exit_code == 0, dropped.output
    assert "warning:" in dropped.output and "whitespace" in dropped.output, dropped.output
    schema = yaml.safe_load((tmp_path / "out" / "r" / "configs" / "schema.yaml").read_text())
    target = next(c for c in schema["columns"] if c["name"] == "species")
    assert target["aliases"] == {"Emperor": None} and target["nullable"], target
