"""Refuse invalid answers before cookiecutter writes anything.

prodml validates before it renders; this hook gives the same checks to people who run plain
``cookiecutter template/``. Rendered by cookiecutter, so CONTEXT holds the answers.
"""

import json
import sys
from pathlib import Path

CONTEXT = json.loads(r"""{{ cookiecutter | jsonify }}""")
# A source checkout run by plain cookiecutter may not have prodml installed: use its generator/.
sys.path.append(str(Path(CONTEXT["_repo_dir"]).resolve().parent / "generator"))

from prodml.options import AnswerError, validate  # noqa: E402

try:
    validate(CONTEXT)
except AnswerError as error:
    print("prodml: invalid answers, nothing generated:", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)
    sys.exit(1)
