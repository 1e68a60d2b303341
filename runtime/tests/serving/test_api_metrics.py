"""``/metrics`` holds a fixed number of series whatever clients send: methods they invent are
counted as one ``other`` method, paths that match no route as one ``unmatched`` endpoint."""

from __future__ import annotations

import random
import re
import string

import pytest
from prodml_runtime.serving.observability import METHODS, OTHER_METHOD, UNMATCHED

pytestmark = pytest.mark.parametrize("problem", ["binary"], indirect=True)

SERIES = re.compile(r"^(http_requests_total|http_request_duration_seconds_count)\{", re.M)


def series(call) -> list[str]:
    text = call("GET", "/metrics")[1]
    return sorted(line.rsplit(" ", 1)[0] for line in text.splitlines() if SERIES.match(line))


def invented(rng: random.Random) -> tuple[str, str]:
    """A method no standard names (in any letter case) and a path no route matches."""
    while True:
        method = "".join(rng.choices(string.ascii_letters, k=rng.randint(3, 12)))
        if method.upper() not in METHODS:
            break
    path = "/x-" + "".join(rng.choices(string.ascii_lowercase + string.digits + "/_-", k=12))
    return method, path


def test_invented_methods_and_paths_add_no_series(call) -> None:
    rng = random.Random(0)
    routes = ["/health", "/predict", "/model", "/metrics"]
    first, first_path = invented(rng)
    for path in [*routes, "/x-nowhere"]:  # each method on each route, and off every route
        for method in [*sorted(METHODS), first]:
            call(method, path)
    before = series(call)
    assert any(f'method="{OTHER_METHOD}"' in line for line in before), before
    assert any(f'endpoint="{UNMATCHED}"' in line for line in before), before
    for _ in range(200):
        method, path = invented(rng)
        call(method, path)
        call(method, rng.choice(routes))
        call(rng.choice(sorted(METHODS)), path)
    after = series(call)
    assert after == before
    assert not any(f'method="{first}"' in line or first_path in line for line in after)
