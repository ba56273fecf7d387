"""Fails when a function plus its layers, as `sam build` left them, is over the unzipped limit."""

import argparse
import sys
from pathlib import Path

from cfn_tools import load_yaml


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", default=".aws-sam/build")
    parser.add_argument("--limit-mb", type=float, default=200)
    args = parser.parse_args()
    build = Path(args.build_dir)
    template = load_yaml((build / "template.yaml").read_text())
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    failures = 0
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        parts = [build / name] + [
            build / layer["Ref"] for layer in global_layers + props.get("Layers", []) if "Ref" in layer
        ]
        total = sum(tree_bytes(p) for p in parts if p.exists()) / 1024 / 1024
        verdict = "ok" if total <= args.limit_mb else "TOO BIG"
        failures += total > args.limit_mb
        layers = ", ".join(p.name for p in parts[1:]) or "no layers"
        print(f"{name:32s} {total:7.1f} MB unzipped with {layers}  [{verdict}]")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
