"""Keep the files the answers ask for and record the answers (runs in the new project)."""

import json
import sys
from pathlib import Path

CONTEXT = json.loads(r"""{{ cookiecutter | jsonify }}""")
sys.path.append(str(Path(CONTEXT["_repo_dir"]).resolve().parent / "generator"))

from prodml import answers, layout  # noqa: E402

layout.arrange(Path.cwd(), CONTEXT)
answers.write(Path.cwd(), CONTEXT)
