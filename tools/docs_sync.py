"""Move README.md's sections into the docs site (one-shot, for the README cut of issue 17).

    .venv/bin/python tools/docs_sync.py            # docs/<page>.md from the README's ## sections
    .venv/bin/python tools/docs_sync.py --cut-readme   # then README.md = docs/_extra/README.front.md

Each generated page is the README sections PAGES names (by their `## ` heading), with commands in
code blocks written as `.venv/bin/visionpipe` / `.venv/bin/sam` (the docs' convention), README
anchors pointed at the page that now holds them, and links to repository files turned into code
text (mkdocs --strict rejects links outside docs/). A page's hand-written part,
docs/_extra/<page>.md, is appended. After the cut, the pages are the source: edit them, not this.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
HEADER = (
    "<!-- moved from README.md by tools/docs_sync.py: edit this page (the README is the front door) -->\n"
)

# page -> (title, README `## ` headings it takes, in order); a heading may appear once
PAGES: dict[str, tuple[str, list[str]]] = {
    "flows/anomaly.md": ("Image anomaly flow", ["The image anomaly flow"]),
    "flows/video.md": ("Video flow", ["Video flow"]),
    "flows/edge.md": ("Edge camera (Greengrass v2)", ["Edge camera (Greengrass v2)"]),
    "flows/tweets.md": ("Tweeting detections", ["Tweeting detections"]),
    "flows/retraining.md": ("Retraining", ["Retraining"]),
    "bring-your-own-model.md": ("Bring your own model", ["Detector backends", "The local anomaly model"]),
    "deploying.md": ("Deploying", ["Deploying"]),
    "operations.md": (
        "Operations: failures, replay, dashboards, benchmarks",
        ["Failures and replay", "Benchmarks"],
    ),
    "report.md": ("Reports", ["What the cameras and inspections saw: `visionpipe report`"]),
    "local-mode.md": ("Local mode", ["Local mode"]),
    "reference/layout.md": ("Repository layout", ["Layout"]),
}
# page -> (title, README section, the first line of the table it takes)
TABLES: dict[str, tuple[str, str, str]] = {
    "reference/item-attributes.md": ("Result item attributes", "The image anomaly flow", "| attribute |"),
}
COMMAND = re.compile(r"(^|\$\(|[\s;|&])(visionpipe|sam) (?=[a-z-])", flags=re.MULTILINE)
# inside code blocks: what nothing installs (jq) or sets ($RESULTS_TABLE ...) -> what works as written
REWRITES: list[tuple[str, str]] = [
    (
        r'aws s3 cp ("[^"]+") "s3://\$\(\.venv/bin/visionpipe local outputs '
        r'\| jq -r \.ImageBucketName\)/image_inputs/"',
        r".venv/bin/visionpipe upload \1 --outputs outputs.json",
    ),
    (
        r'--queue-url "\$\(\.venv/bin/visionpipe local outputs \| jq -r \.FailedEventsQueueUrl\)"',
        "--outputs outputs.json",
    ),
    (
        r'--queue-url "\$\(aws cloudformation describe-stacks --stack-name (\S+) \\\n\s*--query '
        r'"Stacks\[0\]\.Outputs\[\?OutputKey==\'FailedEventsQueueUrl\'\]\.OutputValue" --output text\)"',
        r"--stack-name \1",
    ),
    (r'"?\$RESULTS_TABLE"?', "<ResultsTableName>"),
    (r"\$IMAGE_BUCKET", "<ImageBucketName>"),
    (r"\$VIDEO_BUCKET", "<VideoBucketName>"),
]
FILE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?://|#|mailto:)([^)]+)\)")
ANCHOR_LINK = re.compile(r"\]\(#([^)]+)\)")


def sections(readme: str) -> dict[str, str]:
    """`## heading` -> its text up to the next `## ` (subsections included)."""
    parts = re.split(r"^## (.+)$", readme, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")


def anchors(readme: str) -> dict[str, str]:
    """Every README heading's anchor -> the page that takes its section."""
    owner: dict[str, str] = {}
    for page, (_, headings) in PAGES.items():
        for heading in headings:
            owner[heading] = page
    found, current = {}, None
    for line in readme.splitlines():
        match = re.match(r"^(#{2,4}) (.+)$", line)
        if match:
            if len(match.group(1)) == 2:
                current = owner.get(match.group(2).strip())
            if current:
                found[slug(match.group(2))] = current
    return found


def rewrite(block: str) -> str:
    for pattern, replacement in REWRITES:
        block = re.sub(pattern, replacement, block)
    return block


def in_code_blocks(text: str, change) -> str:
    pieces = re.split(r"(^```.*?^```)", text, flags=re.MULTILINE | re.DOTALL)
    return "".join(change(p) if p.startswith("```") else p for p in pieces)


def render(page: str, readme: str) -> str:
    title, headings = PAGES[page]
    texts = sections(readme)
    missing = [h for h in headings if h not in texts]
    if missing:
        raise SystemExit(f"README.md has no section {missing} for {page}: update PAGES")
    where = anchors(readme)
    depth = page.count("/")

    def link(match: re.Match) -> str:
        target = where.get(match.group(1))
        if target is None or target == page:
            return match.group(0)
        return f"]({'../' * depth}{target}#{match.group(1)})"

    body = "".join(f"## {h}\n{texts[h]}" for h in headings)
    body = in_code_blocks(body, lambda block: rewrite(COMMAND.sub(r"\1.venv/bin/\2 ", block)))
    body = FILE_LINK.sub(lambda m: f"{m.group(1)} (`{m.group(2)}`)", body)
    body = ANCHOR_LINK.sub(link, body)
    extra = DOCS / "_extra" / page
    tail = "\n" + extra.read_text() if extra.exists() else ""
    return f"{HEADER}# {title}\n\n{body.strip()}\n{tail}"


def table_page(page: str, readme: str) -> str:
    title, heading, first = TABLES[page]
    lines = sections(readme)[heading].splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(first)), None)
    if start is None:
        raise SystemExit(f"README.md's {heading!r} has no table starting {first!r}: update TABLES")
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    extra = DOCS / "_extra" / page
    tail = "\n" + extra.read_text() if extra.exists() else ""
    return f"{HEADER}# {title}\n\n" + "\n".join(table) + f"\n{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cut-readme", action="store_true", help="replace README.md by the front door")
    args = parser.parse_args()
    readme = (REPO / "README.md").read_text()
    if args.cut_readme:
        front = (DOCS / "_extra" / "README.front.md").read_text()
        (REPO / "README.md").write_text(front)
        print(f"README.md: {len(front.splitlines())} lines")
        return 0
    mapped = {h for _, headings in PAGES.values() for h in headings}
    unmapped = [h for h in sections(readme) if h not in mapped]
    if unmapped:  # a section another change added: give it a page in PAGES before the cut
        print(f"warning: README sections on no page: {unmapped}")
    for page in PAGES:
        path = DOCS / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(page, readme))
        print(f"{path.relative_to(REPO)} <- {', '.join(PAGES[page][1])}")
    for page in TABLES:
        (DOCS / page).write_text(table_page(page, readme))
        print(f"docs/{page} <- the table in {TABLES[page][1]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
