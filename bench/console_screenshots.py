"""Screenshots of the bureau console, one PNG per page at 1366×768, taken in Debian's headless Chromium from a
seeded platform (SQLite and NATS of its own, in a temporary folder): `python bench/console_screenshots.py`.

The pages as a person sees them after signing in with an ops key through the form; written to docs/console/.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(
        0, str(ROOT)
    )  # the seed lives with the tests: `python bench/console_screenshots.py` from anywhere

from common.embedded_nats import EmbeddedNats, free_port  # noqa: E402
from common.migrations import upgrade  # noqa: E402
from common.testing.browser import CHROMIUM, Browser  # noqa: E402
from tests.gateway.console_seed import Seeded, console_platform  # noqa: E402
from tests.security.conftest import HOSPITAL, SERVICES, Platform  # noqa: E402

SHOTS = {
    "fund": "/console/fund",
    "daily": "/console/daily",
    "prices": "/console/prices",
    "fraud": "/console/fraud",
    "points": "/console/points",
    "institution": f"/console/institutions/{HOSPITAL}",
    "person": "/console/persons/{psn_no}",
    "sign-in": "/console/login",
}


def _shoot(platform: Platform, seeded: Seeded, out: Path, profile: Path) -> list[Path]:
    written = []
    with Browser(profile) as browser:
        browser.goto(f"{platform.url}/console/login")
        browser.submit("form[action='/console/login']", {"api_key": platform.keys["ops"]})
        for name, path in SHOTS.items():
            if name == "sign-in":
                continue
            browser.goto(f"{platform.url}{path.format(psn_no=seeded.psn_no)}")
            browser.wait_for(
                "[...document.querySelectorAll('.chart')].every(el => el.getAttribute('data-rendered') === '1')"
            )
            written.append(out / f"{name}.png")
            written[-1].write_bytes(browser.screenshot())
        browser.submit("form[action='/console/logout']", {})
        written.append(out / "sign-in.png")
        written[-1].write_bytes(browser.screenshot())
    return written


async def _seeded_and_shot(root: Path, nats_url: str, out: Path) -> list[Path]:
    urls = {name: f"sqlite+aiosqlite:///{root / f'{name}.db'}" for name in (*SERVICES, "gateway")}
    for name, url in urls.items():
        await asyncio.to_thread(upgrade, name, url)
    async with console_platform(urls, nats_url, root / "var") as (platform, seeded):
        return await asyncio.to_thread(_shoot, platform, seeded, out, root / "browser")


def main(out: Path) -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is not installed: apt-get install chromium (and fonts-noto-cjk)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="console-shots-") as tmp:
        root = Path(tmp)
        (root / "browser").mkdir()
        nats = EmbeddedNats(port=free_port(), store_dir=root / "nats", log_file=root / "nats.log")
        nats.start()
        try:
            written = asyncio.run(_seeded_and_shot(root, nats.url, out))
        finally:
            nats.stop()
    for path in written:
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    sys.exit(main(parser.parse_args().out))
