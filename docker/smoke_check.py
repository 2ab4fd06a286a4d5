"""Checks for ``docker/smoke.sh``; standard library only, so any ``python3`` runs it.

``compare IN OUT``
    The result of a run inside the container against the same run outside: equal once
    wall-clock fields and the record of the environment (versions, image) are set aside.
``mlflow URL MODE RESULT DIGEST``
    The runs arrived in the MLflow server at ``URL`` (through its REST API), finished,
    tagged with the image ``DIGEST``, with their artifacts; ``MODE`` is ``leaderboard`` or
    ``train`` and ``RESULT`` the run's result file.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request
from typing import Any

#: Keys whose values are wall-clock times, or describe the environment rather than the
#: result (inside and outside legitimately differ there: Python and torch builds, and
#: where the table file is mounted; the table itself is compared by its recorded
#: ``metrics_sha256``).
IGNORED = frozenset(
    {"timing", "wall_s", "epoch_time_s", "latency_s", "versions", "environment", "table"}
)


def _say(text: str) -> None:
    sys.stdout.write(f"[smoke_check] {text}\n")


def _strip(obj: Any, dropped: set[str]) -> Any:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in IGNORED:
                dropped.add(k)
            else:
                out[k] = _strip(v, dropped)
        return out
    if isinstance(obj, list):
        return [_strip(v, dropped) for v in obj]
    return obj


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if len(out) >= 10:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only {'inside' if k in a else 'outside'}")
            else:
                _diff(a[k], b[k], f"{path}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out)
    elif json.dumps(a) != json.dumps(b):  # json: NaN == NaN, 0.1 == 0.1 bitwise
        out.append(f"{path}: inside {json.dumps(a)[:80]} != outside {json.dumps(b)[:80]}")


def _count(obj: Any) -> int:
    if isinstance(obj, dict):
        return sum(_count(v) for v in obj.values())
    if isinstance(obj, list):
        return sum(_count(v) for v in obj)
    return 1


def compare(inside: str, outside: str) -> int:
    dropped: set[str] = set()
    with open(inside) as f:
        a = _strip(json.load(f), dropped)
    with open(outside) as f:
        b = _strip(json.load(f), dropped)
    diffs: list[str] = []
    _diff(a, b, "", diffs)
    if diffs:
        _say(f"DIFFERENT: {inside} vs {outside}")
        for d in diffs:
            _say(f"  {d}")
        return 1
    _say(
        f"IDENTICAL: {_count(a)} values of the result match bitwise inside and outside the "
        f"container (set aside: {', '.join(sorted(dropped)) or 'nothing'})"
    )
    return 0


def _api(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url.rstrip("/") + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def _runs(url: str, experiment: str = "nasrepro") -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"experiment_name": experiment})
    exp = _api(url, f"/api/2.0/mlflow/experiments/get-by-name?{q}")["experiment"]
    runs: list[dict[str, Any]] = []
    token = None
    while True:
        body: dict[str, Any] = {"experiment_ids": [exp["experiment_id"]], "max_results": 500}
        if token:
            body["page_token"] = token
        page = _api(url, "/api/2.0/mlflow/runs/search", body)
        runs += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            return runs


def _tags(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def _artifacts(url: str, run_id: str) -> set[str]:
    q = urllib.parse.urlencode({"run_id": run_id})
    files = _api(url, f"/api/2.0/mlflow/artifacts/list?{q}").get("files", [])
    return {f["path"] for f in files}


def check_mlflow(url: str, mode: str, result_path: str, digest: str) -> int:
    with open(result_path) as f:
        result = json.load(f)
    runs = _runs(url)
    problems = []
    for r in runs:
        tags, info = _tags(r), r["info"]
        if info["status"] != "FINISHED":
            problems.append(f"run {info['run_name']} is {info['status']}")
        if tags.get("image_digest") != digest:
            problems.append(f"run {info['run_name']} has image_digest={tags.get('image_digest')}")
    if mode == "leaderboard":
        parents = [r for r in runs if _tags(r).get("kind") == "leaderboard"]
        if len(parents) != 1:
            problems.append(f"{len(parents)} leaderboard runs, expected 1")
        else:
            pid = parents[0]["info"]["run_id"]
            children = [r for r in runs if _tags(r).get("mlflow.parentRunId") == pid]
            want = sorted(result["strategies"])
            got = sorted(r["info"]["run_name"] for r in children)
            if got != want:
                problems.append(f"strategy runs {got}, expected {want}")
            if "results.json" not in _artifacts(url, pid):
                problems.append("results.json is not among the leaderboard run's artifacts")
    else:
        trains = [r for r in runs if _tags(r).get("kind") == "train"]
        if len(trains) != 1:
            problems.append(f"{len(trains)} train runs, expected 1")
        else:
            metrics = {m["key"]: m["value"] for m in trains[0]["data"]["metrics"]}
            if metrics.get("test_acc") != result["history"]["test_acc"][-1]:
                problems.append(f"test_acc {metrics.get('test_acc')} is not the result's")
            if "result.json" not in _artifacts(url, trains[0]["info"]["run_id"]):
                problems.append("result.json is not among the train run's artifacts")
    if problems:
        for p in problems:
            _say(f"MLflow: {p}")
        return 1
    _say(
        f"MLflow: {len(runs)} runs arrived at {url}, all FINISHED, tagged with the image "
        f"digest {digest[:19]}..., with their artifacts"
    )
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "compare":
        return compare(argv[1], argv[2])
    if len(argv) == 5 and argv[0] == "mlflow":
        return check_mlflow(*argv[1:])
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
