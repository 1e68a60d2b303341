"""Keep the files the answers ask for, record the answers and put the wheels the project needs
from prodml in vendor/ (runs in the new project)."""

import json
import sys
from pathlib import Path

CONTEXT = json.loads(r"""{{ cookiecutter | jsonify }}""")
sys.path.append(str(Path(CONTEXT["_repo_dir"]).resolve().parent / "generator"))

from prodml import answers, layout, vendor  # noqa: E402

layout.arrange(Path.cwd(), CONTEXT)
answers.write(Path.cwd(), CONTEXT)
vendor.vendor_wheels(Path.cwd())
