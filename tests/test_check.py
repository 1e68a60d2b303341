"""prodml check: a fresh project passes every check; breaking one makes that check fail with its
code; checks that cannot apply are skipped with the reason; a team file and pyproject's ignore
table are honoured; the same checks run under plain repo-review.

Projects are baked with --no-lock, then locked (offline from uv's cache when it can), once per
module and variant, when a test first needs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from prodml import __version__
from prodml.check import CHECKS, markdown_table, runtime
from prodml.check.docs import placeholders
from prodml.check.lockfile import within
from prodml.check.secrets import findings
from prodml.cli import main
from prodml.lock import uv_binary

ROOT = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
VARIANTS = {
    "fastapi-github-uv-git": {"serving": "fastapi", "ci": "github"},
    "none-gitlab-uv-spark-mlflow-git": {
        "serving": "none", "ci": "gitlab", "engine": "spark", "tracking": "mlflow",
    },
    "flask-github-pip-dask-nogit": {
        "serving": "flask", "env_manager": "pip", "engine": "dask", "problem_type": "regression",
    },
}  # fmt: skip
RUNTIME_WHEEL = f"vendor/prodml_runtime-{__version__}-py3-none-any.whl"


def lock(project: Path, env_manager: str) -> None:
    """Lock from uv's cache if it can, else from the index; skip when neither answers."""
    command = ["make", "--no-print-directory", "lock", f"UV={uv_binary()}"]
    for offline in (True, False):
        env = {k: v for k, v in os.environ.items() if k != "UV_OFFLINE"}
        env.update({"UV_OFFLINE": "1"} if offline else {})
        if subprocess.run(command, cwd=project, env=env, capture_output=True).returncode == 0:
            return
    pytest.skip(f"cannot lock a {env_manager} project: no package index and no uv cache")


def bake(parent: Path, name: str, git: bool, **answers: str) -> Path:
    settings = [arg for key, value in answers.items() for arg in ("--set", f"{key}={value}")]
    result = CliRunner().invoke(
        main, ["new", name, "--no-input", "--no-lock", "--no-git", "-o", str(parent), *settings]
    )
    assert result.exit_code == 0, result.output
    project = parent / name
    lock(project, answers.get("env_manager", "uv"))
    if git:
        subprocess.run(["git", "init", "-q"], cwd=project, check=True)
        commit(project)
    return project


def commit(project: Path, *paths: str) -> None:
    subprocess.run([*GIT, "add", "-A", *paths], cwd=project, check=True)
    subprocess.run([*GIT, "commit", "-qm", "change", "--allow-empty"], cwd=project, check=True)


class Baked(dict):
    """Variant -> its fresh project, baked when a test first asks (a variant that cannot be
    locked skips the tests that need it, not the others)."""

    def __init__(self, parent: Path):
        super().__init__()
        self.parent, self.skipped = parent, {}

    def __missing__(self, variant: str) -> Path:
        if variant in self.skipped:
            pytest.skip(self.skipped[variant])
        try:
            baked = bake(self.parent, variant, variant.endswith("-git"), **VARIANTS[variant])
        except pytest.skip.Exception as skip:
            self.skipped[variant] = str(skip)
            raise
        self[variant] = baked
        return baked


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> Baked:
    return Baked(tmp_path_factory.mktemp("baked"))


@pytest.fixture
def project(projects, tmp_path) -> Path:
    """A copy of the default variant (a git repository) to break."""
    return Path(shutil.copytree(projects["fastapi-github-uv-git"], tmp_path / "project"))


@pytest.fixture
def pip_project(projects, tmp_path) -> Path:
    """A copy of the pip variant (no git) to break."""
    return Path(shutil.copytree(projects["flask-github-pip-dask-nogit"], tmp_path / "pip"))


def check(path: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["check", str(path), "--format", "json", *args])
    assert result.exit_code in (0, 3), result.output
    return result.exit_code, json.loads(result.output)


def not_passed(report: dict) -> dict[str, str]:
    """code -> skip reason or failure of every check that did not pass."""
    return {
        code: result["skip_reason"] if result["result"] is None else f"FAILED: {result['err_msg']}"
        for code, result in report["checks"].items()
        if result["result"] is not True
    }


EXPECTED_SKIPS = {
    "fastapi-github-uv-git": {"PML104"},
    "none-gitlab-uv-spark-mlflow-git": {"PML104", "PML401", "PML402"},
    "flask-github-pip-dask-nogit": {"PML104", "PML701", "PML702", "PML703"},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_fresh_project_passes_and_says_why_a_check_does_not_apply(projects, variant):
    status, report = check(projects[variant])
    assert status == 0
    assert set(report["checks"]) == {c.__name__ for c in CHECKS}
    skipped = not_passed(report)
    assert set(skipped) == EXPECTED_SKIPS[variant], skipped
    assert all(reason and not reason.startswith("FAILED") for reason in skipped.values())
    if "nogit" in variant:
        assert skipped["PML703"] == "not a git repository"
    if variant.startswith("none"):
        assert skipped["PML401"].startswith("docker: no")
    assert (projects[variant] / RUNTIME_WHEEL).is_file(), "PML103 and PML202 read it"


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def edit_answers(project: Path, **changes: str) -> None:
    file = project / ".cruft.json"
    data = json.loads(file.read_text())
    data["context"]["cookiecutter"].update(changes)
    file.write_text(json.dumps(data))


def append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "") + text)


def _no_answers_but_required(p: Path) -> None:
    (p / ".cruft.json").unlink()
    append(p / "pyproject.toml", "\n[tool.prodml.check]\nignore = {}\n")


def _precommit_without(hook: str) -> Callable[[Path], None]:
    def edit(p: Path) -> None:
        import yaml

        config = yaml.safe_load((p / ".pre-commit-config.yaml").read_text())
        for repo in config["repos"]:
            repo["hooks"] = [h for h in repo["hooks"] if hook not in h["id"]]
        (p / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))

    return edit


def _dockerfile_without(instruction: str) -> Callable[[Path], None]:
    def edit(p: Path) -> None:
        lines = (p / "Dockerfile").read_text().splitlines()
        kept = [line for line in lines if not line.startswith(instruction)]
        (p / "Dockerfile").write_text("\n".join(kept).replace("\\\n    CMD", "\nCMD") + "\n")

    return edit


CI = ".github/workflows/ci.yml"
AWS_KEY = "AKIA" + "Q7" * 8  # built here so this file holds no key
BREAK: dict[str, Callable[[Path], None]] = {
    "PML101": _no_answers_but_required,
    "PML102": lambda p: edit_answers(p, ci="jenkins"),
    "PML103": lambda p: (p / "src" / "fastapi_github_uv_git" / "api.py").unlink(),
    "PML201": lambda p: (p / "configs/schema.yaml").write_text("columns: [\n"),
    "PML202": lambda p: replace(p / "configs/schema.yaml", "type: numeric", "type: numberish"),
    "PML301": lambda p: (
        replace(p / CI, "ruff check", "echo"),
        replace(p / CI, "pre-commit run --all", "echo"),
    ),
    "PML302": lambda p: replace(p / CI, "make test", "echo"),
    "PML303": lambda p: replace(p / CI, "make train", "echo"),
    "PML304": lambda p: replace(p / CI, "prodml-check", "other"),
    "PML401": _dockerfile_without("USER"),
    "PML402": _dockerfile_without("HEALTHCHECK"),
    "PML501": _precommit_without("ruff"),
    "PML502": _precommit_without("prodml-check"),
    "PML503": lambda p: (p / "uv.lock").unlink(),
    "PML504": lambda p: replace(p / "pyproject.toml", '"ruff>=0.6",', '"ruff>=0.6", "rich>=13",'),
    "PML601": lambda p: append(p / "README.md", "\nTODO: describe the data.\n"),
    "PML602": lambda p: append(p / "docs/design.md", "\nOwner: <your name>\n"),
    "PML603": lambda p: (p / "docs/model-card.md").write_text("# Model card\n\nA model.\n"),
    "PML701": lambda p: replace(p / ".gitignore", "/models/\n", ""),
    "PML702": lambda p: append(p / "models/champion.joblib", "weights"),
    "PML703": lambda p: append(p / "src/settings_local.py", f'AWS_KEY = "{AWS_KEY}"\n'),
}


def test_every_code_has_a_breaking_case_except_the_team_one():
    assert set(BREAK) | {"PML104"} == {c.__name__ for c in CHECKS}


@pytest.mark.parametrize("code", BREAK)
def test_a_broken_project_fails_that_check_with_its_code(project, code):
    BREAK[code](project)
    commit(project, "-f", ".")  # -f: a generated file committed by force (PML702)
    status, report = check(project)
    result = report["checks"][code]
    assert status == 3 and report["status"] == "errors"
    assert result["result"] is False, not_passed(report)
    assert len(result["err_msg"]) > 30, "the message says how to fix it"


def test_a_repo_prodml_did_not_generate_is_skipped_with_reasons(tmp_path):
    (tmp_path / "README.md").write_text("# A library\n\nTODO: everything.\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "lib"\nversion = "1"\n')
    status, report = check(tmp_path)
    assert status == 0 and report["status"] == "skips"
    reasons = not_passed(report)
    assert set(reasons) == {c.__name__ for c in CHECKS}, "nothing passes, nothing fails"
    assert reasons["PML101"].startswith("not a prodml project (no .cruft.json)")
    assert reasons["PML703"] == "not a git repository"
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    commit(tmp_path)
    status, report = check(tmp_path)
    assert status == 0 and report["checks"]["PML703"]["result"] is True


def test_a_team_file_fails_the_departures_and_names_the_update(projects, tmp_path):
    team = tmp_path / "team.yaml"
    team.write_text("ci: gitlab\nlicense: Proprietary\nserving: fastapi\n")
    status, report = check(projects["fastapi-github-uv-git"], "--config", str(team))
    message = report["checks"]["PML104"]["err_msg"]
    assert status == 3 and report["checks"]["PML104"]["result"] is False
    assert "`ci` is `github`, the team requires `gitlab`" in message
    assert "prodml update --set ci=gitlab --set license=Proprietary" in message
    assert "serving" not in message.split("requires")[-1]
    team.write_text("default_context:\n  ci: github\n  serving: fastapi\n")
    status, report = check(projects["fastapi-github-uv-git"], "--config", str(team))
    assert status == 0 and report["checks"]["PML104"]["result"] is True


def test_a_team_file_named_in_pyproject_is_read_too(project):
    (project / "team.yaml").write_text("docker: no\n")
    append(project / "pyproject.toml", '\n[tool.prodml.check]\nconfig = "team.yaml"\n')
    status, report = check(project)
    assert status == 3 and "`docker` is `yes`" in report["checks"]["PML104"]["err_msg"]


@pytest.mark.parametrize("table", ["tool.prodml.check", "tool.repo-review"])
def test_an_ignore_with_a_reason_in_pyproject_skips_with_it(project, table):
    BREAK["PML601"](project)
    append(project / "pyproject.toml", f'\n[{table}]\nignore = {{PML601 = "drafting"}}\n')
    status, report = check(project)
    assert status == 0
    assert report["checks"]["PML601"] == {**report["checks"]["PML601"], "result": None,
                                          "skip_reason": "drafting"}  # fmt: skip


def add_to_wheel(wheel: Path, member: str, code: str) -> None:
    """Append ``code`` to ``member`` of ``wheel`` (rewritten in place)."""
    with zipfile.ZipFile(wheel) as source:
        items = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(wheel, "w") as target:
        for info, data in items:
            target.writestr(info, data + code.encode() if info.filename == member else data)


def test_an_ignored_check_does_not_run(project, tmp_path):
    marker = tmp_path / "imported"
    add_to_wheel(project / RUNTIME_WHEEL, "prodml_runtime/core/schema.py",
                 f"\nimport pathlib\npathlib.Path({str(marker)!r}).touch()\n")  # fmt: skip
    append(project / "pyproject.toml", '\n[tool.prodml.check]\nignore = {PML202 = "slow"}\n')
    status, report = check(project)
    assert status == 0 and report["checks"]["PML202"]["skip_reason"] == "slow"
    assert not marker.exists(), "the runtime's model was not imported"
    replace(project / "pyproject.toml", 'ignore = {PML202 = "slow"}', "")
    status, report = check(project)
    assert status == 0 and report["checks"]["PML202"]["result"] is True
    assert marker.exists(), "the model is the vendored wheel's, not the installed runtime's"
    assert not [m for m in sys.modules if m.startswith("_prodml_check_")], "nothing left imported"


def test_the_schema_model_is_the_pinned_runtimes(project):
    refuse = "\ndef parse_schema(raw, source):\n    raise ValueError('0.2 says no')\n"
    add_to_wheel(project / RUNTIME_WHEEL, "prodml_runtime/core/schema.py", refuse)
    _, report = check(project, "--select", "PML202")
    assert "0.2 says no" in report["checks"]["PML202"]["err_msg"], "the vendored wheel decides"
    (project / RUNTIME_WHEEL).write_bytes(b"not a zip")
    _, report = check(project, "--select", "PML202")
    assert report["checks"]["PML202"]["result"] is None
    assert f"`{RUNTIME_WHEEL}` does not import here" in report["checks"]["PML202"]["skip_reason"]


def on_an_index(project: Path) -> None:
    """Take the runtime from an index: no vendor/, no [tool.uv.sources] (the README's way)."""
    shutil.rmtree(project / "vendor")
    text = (project / "pyproject.toml").read_text()
    start = text.index("[tool.uv.sources]")
    end = text.index("\n\n", start)
    (project / "pyproject.toml").write_text(text[:start] + text[end + 2 :])


def test_without_a_vendored_wheel_the_installed_runtime_is_the_model(project, monkeypatch):
    on_an_index(project)
    status, report = check(project, "--select", "PML202", "--select", "PML103")
    assert status == 0 and report["checks"]["PML202"]["result"] is True, not_passed(report)
    assert report["checks"]["PML103"]["result"] is True, "no wheel named: none required"
    monkeypatch.setattr(runtime, "installed_runtime", lambda: ("/nowhere", "0.9.0"))
    _, report = check(project, "--select", "PML202")
    reason = report["checks"]["PML202"]["skip_reason"]
    assert "installed prodml-runtime 0.9.0 is not the one the project pins" in reason
    monkeypatch.setattr(runtime, "installed_runtime", lambda: None)
    _, report = check(project, "--select", "PML202")
    assert "none installed here" in report["checks"]["PML202"]["skip_reason"]


@pytest.mark.parametrize("manager", ["uv", "pip"])
def test_a_missing_vendored_wheel_is_named_with_how_to_restore_it(project, pip_project, manager):
    target = project if manager == "uv" else pip_project
    (target / RUNTIME_WHEEL).unlink()
    status, report = check(target)
    message = report["checks"]["PML103"]["err_msg"]
    assert status == 3 and f"Missing `{RUNTIME_WHEEL}`" in message, message
    assert "`prodml update`" in message and "your team's index" in message
    assert "(PML103)" in report["checks"]["PML202"]["skip_reason"]


def test_the_lock_pins_the_runtime_within_the_declared_range(project, pip_project):
    replace(project / "pyproject.toml", f"~={__version__}", "~=9.1.0")
    _, report = check(project, "--select", "PML504")
    message = report["checks"]["PML504"]["err_msg"]
    assert f"prodml-runtime=={__version__} (~=9.1.0)" in message, message
    assert "outside pyproject's bounds" in message
    on_an_index(project)
    _, report = check(project, "--select", "PML504")
    assert "sources changed in `[tool.uv.sources]`" in report["checks"]["PML504"]["err_msg"]
    lock = pip_project / "requirements.lock"
    replace(lock, f"prodml-runtime=={__version__}", "prodml-runtime==9.0.0")
    _, report = check(pip_project, "--select", "PML504")
    pinned = "`requirements.lock` pinned outside pyproject's bounds: `prodml-runtime==9.0.0`"
    assert pinned in report["checks"]["PML504"]["err_msg"]


@pytest.mark.parametrize(
    ("version", "specifier", "expected"),
    [("0.2.3", "~=0.2.0", True), ("0.3.0", "~=0.2.0", False), ("0.1.9", "~=0.2.0", False),
     ("1.9", "~=1.4", True), ("2.0", "~=1.4", False), ("0.2.7", "==0.2.*", True),
     ("0.3", "==0.2.*", False), ("0.3", "!=0.2.*", True), ("1.0", ">=0.9", True)],
)  # fmt: skip
def test_within_reads_compatible_and_prefix_bounds(version, specifier, expected):
    assert within(version, specifier) is expected


@pytest.mark.parametrize("manager", ["uv", "pip"])
def test_the_hook_message_describes_the_hook_a_project_gets(project, pip_project, manager):
    target = project if manager == "uv" else pip_project
    _precommit_without("prodml-check")(target)
    _, report = check(target, "--select", "PML502")
    message = report["checks"]["PML502"]["err_msg"]
    entry = "uv run --no-sync prodml check" if manager == "uv" else "prodml check"
    assert f"`entry: {entry}`" in message and "`language: system`" in message


def test_select_and_ignore_on_the_command_line(project):
    BREAK["PML601"](project)
    _, report = check(project, "--select", "PML601", "--select", "PML603")
    assert set(report["checks"]) == {"PML601", "PML603"}
    status, report = check(project, "--ignore", "PML601")
    assert status == 0 and "PML601" not in report["checks"]


def test_html_and_rich_output(projects):
    batch = str(projects["none-gitlab-uv-spark-mlflow-git"])
    result = CliRunner().invoke(main, ["check", batch, "--format", "html"])
    assert result.exit_code == 0

    tags: list[str] = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: tags.append(tag)  # type: ignore[method-assign]
    parser.feed(result.output)
    parser.close()
    assert {"table", "ul", "li"} & set(tags), tags
    assert "PML401" in result.output and "docker: no" in result.output
    rich = CliRunner().invoke(main, ["check", batch])
    assert rich.exit_code == 0 and "PML703" in rich.output and "[skipped]" in rich.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["/nonexistent/repo"], "does not exist"), (["--format", "svg"], "svg"),
     (["--config", "/nonexistent.yaml"], "does not exist")],
)  # fmt: skip
def test_usage_errors_exit_2_without_a_traceback(args, needle, tmp_path):
    result = CliRunner().invoke(main, ["check", *args, str(tmp_path)])
    assert result.exit_code == 2 and needle in result.output
    assert "Traceback" not in result.output


def test_an_unreadable_team_file_is_a_usage_error(tmp_path):
    team = tmp_path / "team.yaml"
    team.write_text("- a list\n")
    result = CliRunner().invoke(main, ["check", str(tmp_path), "--config", str(team)])
    assert result.exit_code == 2 and "expected a mapping of option: value" in result.output


@pytest.mark.parametrize(
    ("pyproject", "needle"),
    [("[project\nname =", "is not valid TOML"),
     ("[tool.prodml]\ncheck = 1\n", "must be a table"),
     ("[tool.prodml.check]\nignore = 5\n", "ignore must be a table"),
     ("[tool.repo-review]\nignore = 3\n", "ignore must be a table or a list")],
)  # fmt: skip
def test_a_broken_configuration_is_named_without_a_traceback(tmp_path, pyproject, needle):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 1 and needle in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_broken_answers_file_or_team_file_is_a_failure_not_a_crash(project):
    (project / ".cruft.json").write_text('{"context": 5}')
    append(project / "pyproject.toml", '\n[tool.prodml.check]\nconfig = "missing.yaml"\n')
    status, report = check(project)
    assert status == 3
    assert "not a prodml answers file" in report["checks"]["PML102"]["err_msg"]
    assert (
        "config /" in report["checks"]["PML104"]["err_msg"]
        and "missing.yaml" in report["checks"]["PML104"]["err_msg"]
    )


def test_plain_repo_review_runs_the_same_checks(projects, project):
    repo_review = Path(sys.executable).parent / "repo-review"
    command = [str(repo_review), "--format", "json", "--select", "PML"]
    fresh = subprocess.run([*command, str(projects["fastapi-github-uv-git"])],
                           capture_output=True, text=True)  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    assert set(json.loads(fresh.stdout)["checks"]) == {c.__name__ for c in CHECKS}
    BREAK["PML402"](project)
    broken = subprocess.run([*command, str(project)], capture_output=True, text=True)
    assert broken.returncode == 3
    assert json.loads(broken.stdout)["checks"]["PML402"]["result"] is False


@pytest.mark.parametrize(
    "line",
    ["-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----", AWS_KEY,
     "token = 'ghp_" + "a1B2" * 9 + "'", "GITLAB = 'glpat-" + "x" * 20 + "'",
     "slack: xoxb-" + "1234567890-abcdef", 'password = "hunter2hunter2"',
     'DB_PASSWORD: "s3cr3t-v4lue"', '"api_key": "k9f8e7d6c5b4"'],
)  # fmt: skip
def test_secret_patterns_find_what_they_should(line):
    assert findings(f"x = 1\n{line}\n") != []
    assert findings(f"x = 1\n{line}\n")[0][0] == 2


@pytest.mark.parametrize(
    "line",
    ['password = os.environ["DB_PASSWORD"]', 'password: str = ""', "secret_name = 'prod'",
     'password = "${DB_PASSWORD}"', 'api_key = "<your api key>"', 'password = "changeme123"',
     "AKIA_PREFIX = 'short'", "token = 'ghp_short'", 'PASSWORD_FILE = "/run/secrets/db"',
     "key = hashlib.sha256(data).hexdigest()"],
)  # fmt: skip
def test_secret_patterns_leave_lookalikes_alone(line):
    assert findings(line) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [("Fill this in: TODO\n", ["TODO"]), ("Owner: <your name>\n", ["<your name>"]),
     ("Lorem ipsum dolor.\n", ["Lorem ipsum"]), ("Hi {{ cookiecutter.name }}\n", 1),
     ("Files go to `models/<version>/`.\n", []), ("```\n# Incident: <title>\nTODO\n```\n", []),
     ("Line<br>break and <https://example.com>\n", []), ("Tested: no todos here.\n", [])],
)  # fmt: skip
def test_placeholders_outside_code(text, found):
    got = [text for _, text in placeholders(text)]
    assert (len(got) == found) if isinstance(found, int) else got == found


def test_readme_lists_every_code():
    assert markdown_table() in (ROOT / "README.md").read_text()
