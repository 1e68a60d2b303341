"""PML1xx: the answers file, the files the recorded options own, and the team's conventions."""

from __future__ import annotations

from prodml import __version__
from prodml.answers import ANSWERS_FILE
from prodml.check.base import NOT_PRODML, Check, Project, listing
from prodml.check.runtime import PYPROJECT, VENDOR, named_wheels
from prodml.layout import OPTIONAL, VARIANTS
from prodml.options import BY_NAME, problem_with, unknown_keys

FAMILY = "prodml-answers"


class PML101(Check):
    """Answers file (.cruft.json) present"""

    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        if project.answers is None and not project.required:
            return f"{NOT_PRODML}, and no team file (or tool.prodml table) requires one"
        return ""

    def verify(self, project: Project) -> str | None:
        if project.answers is not None:
            return None
        return (
            f"No `{ANSWERS_FILE}`, and the team expects a prodml project. Generate one with the "
            "project's answers (`prodml new NAME --no-input --no-git --no-lock --set KEY=VALUE "
            f"... -o /tmp/answers`) and copy its `{ANSWERS_FILE}` here."
        )


class PML102(Check):
    """Recorded answers pass the option schema"""

    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        return NOT_PRODML if project.answers is None else ""

    def verify(self, project: Project) -> str | None:
        if not project.answers_problem:
            return None
        return (
            f"`{ANSWERS_FILE}`: {project.answers_problem}. Fix the answer there "
            "(`prodml options` lists every option and its choices)."
        )


def package_modules() -> list[str]:
    """The modules of the template's package (``src/{package_name}/``): the project's parts."""
    from prodml.generate import template_dir

    package = template_dir().joinpath(
        "{{cookiecutter.project_slug}}", "src", "{{cookiecutter.package_name}}"
    )
    return [f"src/{{package_name}}/{file.name}" for file in sorted(package.glob("*.py"))]


def required_paths(answers: dict[str, str]) -> list[str]:
    """The paths the recorded options keep (prodml.layout's rules), relative to the project:
    the package's modules, and the files an option adds or chooses."""
    optional = {path for path, _ in OPTIONAL}
    sources = {source for _, _, chosen in VARIANTS for source in chosen.values()}
    modules = [m for m in package_modules() if m not in optional | sources]
    kept = [path for path, keep in OPTIONAL if keep(answers)]
    variants = [target for target, option, chosen in VARIANTS if answers[option] in chosen]
    return [path.format(**answers) for path in modules + kept + variants]


class PML103(Check):
    """Files the recorded options require are present"""

    family = FAMILY

    def verify(self, project: Project) -> str | None:
        assert project.answers is not None
        missing = [path for path in required_paths(project.answers) if not project.exists(path)]
        wheels = [w for w in named_wheels(project) if w.found(project) is None]
        problems = []
        if missing:
            fix = (
                f"The project is at template {project.version}: `prodml update` moves it to "
                f"{__version__}."
                if project.version not in (__version__, "unknown")
                else f"Restore them (`prodml new --replay {ANSWERS_FILE}` renders the originals), "
                "or change the answer that owns them with `prodml update --set KEY=VALUE`."
            )
            problems.append(
                f"Missing {listing(missing)}, which the answers in `{ANSWERS_FILE}` require. {fix}"
            )
        for wheel in wheels:
            instead = (
                "delete its line in `[tool.uv.sources]`"
                if wheel.named_by == PYPROJECT
                else "remove `--find-links vendor` from the Makefile's lock command"
            )
            problems.append(
                f"Missing `{wheel.path}`: {wheel.named_by} installs {wheel.distribution} "
                f"{wheel.version} from it, and nothing installs without it. Restore it with "
                f"`git checkout -- {VENDOR}/`, or run `prodml update` with prodml {wheel.version}: "
                f"it puts its wheels in {VENDOR}/. Where your team's index serves "
                f'{wheel.distribution}, {instead} and run `make lock` (README, "Upgrading").'
            )
        return " ".join(problems) or None


class PML104(Check):
    """Answers follow the team's conventions (--config)"""

    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        if not project.team.values and not project.team.problem:
            return "no team file (--config team.yaml, or config = under tool.prodml.check)"
        if project.team.problem:
            return ""
        return NOT_PRODML if project.answers is None else ""

    def verify(self, project: Project) -> str | None:
        team = project.team
        if team.problem:
            return f"{team.problem}."
        assert project.answers is not None
        problems = unknown_keys(team.values)
        departures = []
        for name, required in team.values.items():
            if name in BY_NAME and project.answers.get(name) != required:
                departures.append(
                    f"`{name}` is `{project.answers.get(name)}`, the team requires `{required}`"
                )
            elif name in BY_NAME and (
                problem := problem_with(BY_NAME[name], required, team.values)
            ):
                problems.append(problem)
        if not problems and not departures:
            return None
        fixes = " ".join(
            f"--set {k}={v}"
            for k, v in team.values.items()
            if k in BY_NAME and project.answers.get(k) != v
        )
        message = f"Departs from the team's conventions ({team.source}): "
        message += "; ".join(departures + problems) + "."
        if fixes:
            message += (
                f" Move the project with `prodml update {fixes}`, or record the exception: "
                '`[tool.prodml.check] ignore = {PML104 = "why"}` in pyproject.toml.'
            )
        return message


CHECKS = (PML101, PML102, PML103, PML104)
