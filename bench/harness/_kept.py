"""Finished real trainings kept on disk, so that a killed command does not redo them.

``validate --out`` retrains its best incumbents and ``oneshot leaderboard`` its derived
cells, minutes each under a real protocol. Each result is kept in the command's output
directory as it finishes (``retrained/<digest>.json``, written atomically) and read
back by the same command run again, but only where it would come out the same: the
same work (``key``: architecture, protocol, seed, device, ...) on the same build (the
fields :func:`~nasrepro.bench.harness._reproduce.current_build` compares for bitwise
identity, nasrepro's own code digest and oneDNN's instruction-set cap). Anything else
is trained again and replaces the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasrepro.spaces._errors import access_error
from nasrepro.tables import write_text_atomic
from nasrepro.tables._outfile import set_aside

__all__ = ["KEPT_FORMAT", "kept"]

logger = logging.getLogger(__name__)

KEPT_FORMAT = "nasrepro-kept-1"


def _build(device: str) -> dict[str, str]:
    from nasrepro.bench.harness._reproduce import current_build
    from nasrepro.bench.tracking import versions

    v = versions()
    return current_build(device, v) | {
        "nasrepro_code": v["nasrepro_code"],
        "onednn_max_cpu_isa": v.get("onednn_max_cpu_isa", ""),
    }


def kept(
    store: Path | None,
    key: dict[str, Any],
    device: str,
    compute: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """``compute()``'s JSON-ready result, read back from ``store`` where it holds one of
    the same ``key`` made on this build; ``(value, reused)``. Without a ``store`` this
    is ``compute()``.

    Raises:
        AccessError: The kept file exists but this user may not read it.
    """
    if store is None:
        return compute(), False
    import torch  # noqa: F401  (versions() records torch's fields only once it is loaded)

    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    path = Path(store) / f"{digest}.json"
    build = _build(device)
    if path.is_file():
        try:
            d = json.loads(path.read_text())
            if not (isinstance(d, dict) and d.get("format") == KEPT_FORMAT):
                raise ValueError("not a kept result")
            if d.get("key") == key and d.get("build") == build:
                logger.info("%s: read back (%s)", path, key)
                return d["value"], True
            logger.info("%s was made for another key or build; training again", path)
        except PermissionError as e:
            raise access_error(path, e, "kept result") from None
        except (OSError, ValueError, KeyError) as e:
            try:
                aside: Path | str = set_aside(path)
            except OSError as moved:
                aside = f"nowhere ({moved.strerror})"
            logger.warning("%s is unreadable (%s); set aside as %s, training again", path, e, aside)
    value = compute()
    record = {"format": KEPT_FORMAT, "key": key, "build": build, "value": value}
    write_text_atomic(path, json.dumps(record, sort_keys=True))
    return value, False
