"""grader pack build | verify | new: publish packs as checked archives, start new packs."""
from __future__ import annotations

import sys

from grader.cli.common import add_json, emit_json
from grader.errors import EXIT_OK

HELP = """\
A published pack is one file, NAME-VERSION.tar.gz, holding the pack folder and a
MANIFEST.json with every file's sha256 and a digest of them all.  Every command that
takes a pack accepts such an archive and verifies it before use; `pack verify` does
only that.  Publish the digest next to the archive and check it with --digest.
"""


def register(sub) -> None:
    import argparse

    parser = sub.add_parser("pack", help="build and verify pack archives, start a new pack",
                            description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="pack_command", metavar="ACTION", parser_class=type(parser))

    p = actions.add_parser("build", help="lint a pack, then write NAME-VERSION.tar.gz with a manifest",
                           description="Lint the pack (a pack with problems is refused; warnings, such as a "
                                       "validator that is not installed, are printed and accepted), then write "
                                       "OUT/NAME-VERSION.tar.gz: reproducible, with a sha256 manifest and digest.")
    p.add_argument("pack", metavar="PACK", help="a built-in pack name or a pack folder")
    p.add_argument("-o", "--out", metavar="DIR", default=".", help="where to write the archive (default: .)")
    add_json(p)
    p.set_defaults(func=cmd_build)

    p = actions.add_parser("verify", help="check an archive: safe paths, every file against the manifest, digest",
                           description="Check an archive without extracting it: only regular files under "
                                       "NAME/, each listed in the manifest with its sha256, every listed file "
                                       "present, and the digest.  Exit 0 if it is intact, 2 if not.")
    p.add_argument("archive", metavar="ARCHIVE", help="a .tar.gz from `grader pack build`")
    p.add_argument("--digest", metavar="SHA256", help="also demand this pack digest (as published)")
    add_json(p)
    p.set_defaults(func=cmd_verify)

    p = actions.add_parser("new", help="create a pack folder with one example task that lints and validates",
                           description="Create DIR/NAME with pack.yaml and one example task (linux, controlplane; "
                                       "setup, checks, solution, reset) that `grader lint` and `grader validate` "
                                       "on the local lab pass.")
    p.add_argument("name", metavar="NAME", help="the pack's name: lower-case letters, digits and '-'")
    p.add_argument("-o", "--dir", metavar="DIR", default=".", help="the folder to create it in (default: .)")
    p.set_defaults(func=cmd_new)

    parser.set_defaults(func=lambda args: _usage())


def _usage() -> int:
    from grader.errors import UsageError
    raise UsageError("pack: say what to do: grader pack build | verify | new")


def cmd_build(args) -> int:
    from grader.packs.archive import build, describe
    from grader.cli.core import print_warnings
    from grader.errors import PackError
    from grader.packs.findings import errors, warnings
    from grader.packs.lint import lint
    from grader.packs.packs import find_pack

    root = find_pack(args.pack)
    found = lint(str(root))
    print_warnings(warnings(found))          # accepted: lint did what it could
    problems = errors(found)
    if problems:
        for finding in problems:
            print(finding, file=sys.stderr)
        raise PackError(f"refusing to build: {len(problems)} problem(s) (see above; `grader lint {args.pack}`)",
                        file=str(root))
    before = _archive_digest(root, args.out)
    path, manifest = build(str(root), args.out, lint=False)
    if before and before != manifest.digest:     # never silently: two packs of one name, or an edit
        print(f"grader: replaced {path}, which held other content (digest {before[:12]}...): a pack of the "
              "same name and version was built there before", file=sys.stderr)
    if args.json:
        emit_json({"archive": str(path), **describe(manifest)})
    else:
        print(path)
        print(f"{manifest.name} {manifest.version}: {len(manifest.files)} files, digest {manifest.digest}",
              file=sys.stderr)
    return EXIT_OK


def _archive_digest(root, out: str) -> str | None:
    """The digest of the archive `pack build` is about to replace, if there is one."""
    from pathlib import Path

    from grader.packs.unpack import verify
    from grader.errors import GraderError
    from grader.packs.packs import peek_pack

    info = peek_pack(root)
    target = Path(out) / f"{info['name']}-{info['version']}.tar.gz"
    if not target.is_file():
        return None
    try:
        return verify(str(target)).digest
    except GraderError:
        return "(not a valid archive)"


def cmd_verify(args) -> int:
    from grader.packs.unpack import describe, verify

    manifest = verify(args.archive, digest=args.digest)
    if args.json:
        emit_json({"archive": args.archive, "ok": True, **describe(manifest)})
    else:
        print(f"{args.archive}: ok: {manifest.name} {manifest.version}, {len(manifest.files)} files, "
              f"digest {manifest.digest}")
    return EXIT_OK


def cmd_new(args) -> int:
    from grader.packs.scaffold import TASK_ID, new_pack

    root = new_pack(args.name, args.dir)
    print(root)
    print(f"created pack {args.name} with the example task {TASK_ID}; next:\n"
          f"  grader lint {root}\n"
          f"  export GRADER_INVENTORY=$(sudo grader lab up) && grader validate {root}\n"
          f"  grader pack build {root} -o dist/", file=sys.stderr)
    return EXIT_OK
