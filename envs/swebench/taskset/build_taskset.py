#!/usr/bin/env python3
"""Build the offline SWE-bench task set from the sources next to this file.

    build_taskset.py --out DIR

writes
    DIR/repos/<name>.git   a bare mirror per repository: `main` is one commit, the clean tree
                           ("Initial import", the environment_setup_commit); per instance a
                           commit on top of it with bug.diff applied, tagged <instance_id>
                           (the base_commit)
    DIR/instances.jsonl    one SWE-bench instance per line, FAIL_TO_PASS and PASS_TO_PASS as
                           JSON-encoded strings, as in the published datasets
    DIR/repos.json         repo name -> mirror path (relative to DIR) and test command

Output is byte-identical from run to run: fixed authors, dates and file modes, an empty git
template, and no dependence on the caller's git configuration. DIR is rebuilt from scratch
next to itself and swapped in at the end, so a failed build leaves an existing DIR as it was.
The source tree is only read.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
OWNER = "rockd-tasks"
TEST_CMD = "python3 -m pytest -rA -p no:cacheprovider"
IDENTITY = ("rockd tasks", "tasks@rockd.invalid")
INITIAL_IMPORT_DATE = "2026-11-01T00:00:00Z"
# Paths a source tree may hold that are not part of the repository.
IGNORED_NAMES = frozenset({"__pycache__", ".pytest_cache"})
INSTANCE_FIELDS = ("repo", "FAIL_TO_PASS", "PASS_TO_PASS", "hints_text", "created_at", "version")


class BuildError(Exception):
    pass


def git_env() -> dict[str, str]:
    """The caller's environment without anything that steers git, plus isolation from config."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    return env


def git(git_dir: Path | None, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    command = [
        "git", "-c", "core.hooksPath=/dev/null", "-c", "safe.directory=*",
        "-c", "commit.gpgsign=false", "-c", "core.abbrev=7", "-c", "init.defaultBranch=main",
        *([f"--git-dir={git_dir}"] if git_dir else []), *args,
    ]
    result = subprocess.run(command, input=stdin, env=env or git_env(), capture_output=True)
    if result.returncode != 0:
        raise BuildError(f"git {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def git_date(iso: str) -> str:
    """'2026-11-01T00:00:00Z' -> '1793491200 +0000', git's own unambiguous date format."""
    moment = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return f"{int(moment.timestamp())} +0000"


def commit(git_dir: Path, tree: str, message: str, date: str, parent: str | None = None) -> str:
    env = git_env()
    name, email = IDENTITY
    env.update(
        GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=git_date(date),
        GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email, GIT_COMMITTER_DATE=git_date(date),
    )
    parents = ["-p", parent] if parent else []
    return git(git_dir, "commit-tree", tree, *parents, "-m", message, env=env).decode().strip()


def source_files(root: Path) -> list[str]:
    """Every file of a clean source tree, as sorted paths relative to it."""
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in IGNORED_NAMES)
        for name in names:
            if not name.endswith(".pyc"):
                files.append((Path(directory) / name).relative_to(root).as_posix())
    return sorted(files)


def import_clean_tree(git_dir: Path, root: Path, index: Path) -> str:
    """Commit the source tree as the root of `main`; every file gets mode 100644."""
    files = source_files(root)
    if not files:
        raise BuildError(f"{root}: no files")
    blobs = git(git_dir, "hash-object", "-w", "--no-filters", "--stdin-paths",
                stdin="".join(f"{root / path}\n" for path in files).encode()).decode().split()
    env = dict(git_env(), GIT_INDEX_FILE=str(index))
    entries = "".join(f"100644 {blob}\t{path}\n" for blob, path in zip(blobs, files))
    git(git_dir, "update-index", "--add", "--index-info", stdin=entries.encode(), env=env)
    tree = git(git_dir, "write-tree", env=env).decode().strip()
    clean = commit(git_dir, tree, "Initial import", INITIAL_IMPORT_DATE)
    git(git_dir, "update-ref", "refs/heads/main", clean)
    git(git_dir, "symbolic-ref", "HEAD", "refs/heads/main")
    return clean


def touched_paths(diff: str) -> list[str]:
    return sorted(set(re.findall(r"^\+\+\+ b/(\S+)$", diff, re.M)) | set(re.findall(r"^--- a/(\S+)$", diff, re.M)))


def is_test_path(path: str) -> bool:
    return path.startswith("tests/") or Path(path).name.startswith("test_")


def load_instance(directory: Path, repos: set[str]) -> dict:
    instance_id = directory.name
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        bug = (directory / "bug.diff").read_text(encoding="utf-8")
        test = (directory / "test.diff").read_text(encoding="utf-8")
        problem = (directory / "problem.md").read_text(encoding="utf-8")
    except (OSError, ValueError) as error:
        raise BuildError(f"{instance_id}: {error}") from None
    missing = [field for field in INSTANCE_FIELDS if field not in meta]
    if missing:
        raise BuildError(f"{instance_id}/meta.json: missing {', '.join(missing)}")
    owner, _, name = meta["repo"].partition("/")
    if owner != OWNER or name not in repos:
        raise BuildError(f"{instance_id}/meta.json: repo {meta['repo']!r} is not one of repos/")
    if not re.fullmatch(rf"{OWNER}__{re.escape(name)}-[1-9][0-9]*", instance_id):
        raise BuildError(f"{instance_id}: instance id must be {OWNER}__{name}-<n>")
    for field in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        tests = meta[field]
        if not tests or not all(isinstance(test_id, str) for test_id in tests):
            raise BuildError(f"{instance_id}/meta.json: {field} must be a non-empty list of test ids")
    bug_paths, test_paths = touched_paths(bug), touched_paths(test)
    if not bug_paths or any(is_test_path(path) for path in bug_paths):
        raise BuildError(f"{instance_id}/bug.diff: must touch library files only, touches {bug_paths}")
    if not test_paths or not all(is_test_path(path) for path in test_paths):
        raise BuildError(f"{instance_id}/test.diff: must touch test files only, touches {test_paths}")
    return dict(meta, instance_id=instance_id, name=name, bug=bug, test=test, problem=problem)


def instance_order(instance: dict) -> tuple[str, int]:
    return instance["name"], int(instance["instance_id"].rsplit("-", 1)[1])


def build_instance(git_dir: Path, clean: str, instance: dict, index: Path) -> dict:
    """Commit the buggy base, tag it, and return the instance's SWE-bench record."""
    instance_id = instance["instance_id"]
    env = dict(git_env(), GIT_INDEX_FILE=str(index))
    git(git_dir, "read-tree", clean, env=env)
    try:
        git(git_dir, "apply", "--cached", "-", stdin=instance["bug"].encode(), env=env)
    except BuildError as error:
        raise BuildError(f"{instance_id}: bug.diff does not apply to the clean tree: {error}") from None
    tree = git(git_dir, "write-tree", env=env).decode().strip()
    base = commit(git_dir, tree, f"{instance_id}: base", instance["created_at"], parent=clean)
    git(git_dir, "update-ref", f"refs/tags/{instance_id}", base)
    try:
        git(git_dir, "apply", "--cached", "--check", "-", stdin=instance["test"].encode(), env=env)
    except BuildError as error:
        raise BuildError(f"{instance_id}: test.diff does not apply to the base: {error}") from None
    patch = git(git_dir, "diff", "--no-color", "--no-ext-diff", "--no-renames",
                "--src-prefix=a/", "--dst-prefix=b/", base, clean).decode()
    return {
        "instance_id": instance_id,
        "repo": instance["repo"],
        "base_commit": base,
        "patch": patch,
        "test_patch": instance["test"],
        "problem_statement": instance["problem"],
        "hints_text": instance["hints_text"],
        "created_at": instance["created_at"],
        "version": instance["version"],
        "environment_setup_commit": clean,
        "FAIL_TO_PASS": json.dumps(instance["FAIL_TO_PASS"]),
        "PASS_TO_PASS": json.dumps(instance["PASS_TO_PASS"]),
    }


def build(stage: Path, scratch: Path) -> int:
    repos = sorted(path.name for path in (SOURCE / "repos").iterdir() if path.is_dir())
    instances = sorted(
        (load_instance(path, set(repos)) for path in (SOURCE / "instances").iterdir() if path.is_dir()),
        key=instance_order,
    )
    records = []
    mirrors = {}
    for name in repos:
        git_dir = stage / "repos" / f"{name}.git"
        git(None, "init", "--quiet", "--bare", "--template=", str(git_dir))
        clean = import_clean_tree(git_dir, SOURCE / "repos" / name, scratch / f"{name}.index")
        for instance in instances:
            if instance["name"] == name:
                records.append(build_instance(git_dir, clean, instance, scratch / f"{instance['instance_id']}.index"))
        mirrors[f"{OWNER}/{name}"] = {"path": f"repos/{name}.git", "test_cmd": TEST_CMD}
    with open(stage / "instances.jsonl", "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    with open(stage / "repos.json", "w", encoding="utf-8") as out:
        out.write(json.dumps(mirrors, indent=2, sort_keys=True) + "\n")
    return len(records)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="directory to (re)build")
    out = parser.parse_args().out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="build_taskset-") as scratch:
            count = build(stage, Path(scratch))
        # mkdtemp makes the stage 0700; sandboxes read the set as another user.
        stage.chmod(0o755)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(retired / out.name)
            stage.rename(out)
            shutil.rmtree(retired)
        else:
            stage.rename(out)
    except BuildError as error:
        shutil.rmtree(stage, ignore_errors=True)
        print(f"build_taskset: error: {error}", file=sys.stderr)
        return 1
    print(f"build_taskset: {count} instances in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
