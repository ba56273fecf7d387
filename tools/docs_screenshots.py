"""docs/images/*.png from the demo's pages: run `make demo` first, then
`.venv/bin/python tools/docs_screenshots.py` (headless Debian chromium via Playwright)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("VISIONPIPE_CHROMIUM", "/usr/bin/chromium")
SHOTS = {"report.html": "demo-report.png", "review.html": "review-sheet.png"}


def main(demo_dir: Path = REPO / ".demo") -> int:
    missing = [name for name in SHOTS if not (demo_dir / name).exists()]
    if missing:
        print(f"no {', '.join(missing)} in {demo_dir}: run `make demo` first", file=sys.stderr)
        return 1
    out = REPO / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for name, image in SHOTS.items():
                page.goto((demo_dir / name).as_uri())
                page.screenshot(path=out / image, full_page=False)
                print(f"docs/images/{image} <- {demo_dir / name}")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
