"""Text summaries of py-spy's speedscope profiles: where a service's time goes, in a few lines.

    python bench/_profiles.py var/bench/postgresql/profiles/settlement.speedscope.json [...]

For each profile: the samples, the frames with the most time *in* them (self) and the frames of the
project (services/, libs/common) and of the libraries with the most time *under* them (inclusive).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

INTERESTING = ("services/", "libs/common/", "/common/", "sqlalchemy/", "asyncpg/", "fastapi/", "starlette/",
               "pydantic", "httpx", "aiohttp", "nats/", "uvicorn/", "json", "aiosqlite/")  # fmt: skip


def _frame_name(frame: dict[str, object]) -> str:
    file = str(frame.get("file", ""))
    for marker in ("site-packages/", "services/", "libs/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{frame.get('name')} ({file}:{frame.get('line', '?')})"


def summarise(path: Path, top: int = 18) -> str:
    data = json.loads(path.read_text())
    frames = [_frame_name(frame) for frame in data["shared"]["frames"]]
    files = [str(frame.get("file", "")) for frame in data["shared"]["frames"]]
    own: Counter[int] = Counter()
    inclusive: Counter[int] = Counter()
    total = 0.0
    samples = 0
    for profile in data["profiles"]:
        samples += len(profile["samples"])
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            total += weight
            if stack:
                own[stack[-1]] += weight
            for index in set(stack):
                inclusive[index] += weight
    lines = [
        f"{path.name}: {samples:,} samples, {total:,.1f} s active (idle excluded); time in the event loop's"
        " own frame (Runner.run) is uvloop and the C/Cython protocol code of asyncpg, nats and httptools"
    ]
    if not total:
        return lines[0]
    lines.append("  self (time spent in the frame itself):")
    lines += [f"    {100 * n / total:5.1f}%  {frames[i]}" for i, n in own.most_common(top)]
    lines.append("  inclusive, project and library frames (time under the frame):")
    shown = 0
    for index, n in inclusive.most_common():
        if not any(marker in files[index] for marker in INTERESTING):
            continue
        if "serve.py" in files[index] or "uvicorn/" in files[index] or "runners.py" in files[index]:
            continue
        lines.append(f"    {100 * n / total:5.1f}%  {frames[index]}")
        shown += 1
        if shown >= top * 2:
            break
    return "\n".join(lines)


def main() -> int:
    for name in sys.argv[1:]:
        print(summarise(Path(name)))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
