"""`p2pchat identity`: show this install's fingerprint; create, replace or seal the identity.

The identity is created on first use (said on stderr). The passphrase of a
sealed identity is never taken from argv: it comes from an environment
variable (``P2PCHAT_PASSPHRASE``, or the one named by ``--passphrase-env``) or
is typed at a getpass prompt. A wrong or missing passphrase exits with 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from p2pchat.core.exit_status import EXIT_OK, EXIT_USAGE
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text
from p2pchat.store.identity import PASSPHRASE_ENV  # one name for the variable


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "identity",
        help=t("cli.identity.help"),
        description=t("cli.identity.description"),
        epilog=t("cli.identity.epilog"),
    )
    parser.add_argument("--json", action="store_true", help=t("cli.identity.json_help"))
    parser.add_argument(
        "--new",
        action="store_true",
        help=t("cli.identity.new_help"),
    )
    parser.add_argument(
        "--seal",
        action="store_true",
        help=t("cli.identity.seal_help"),
    )
    parser.add_argument(
        "--passphrase-env",
        metavar="VAR",
        default=PASSPHRASE_ENV,
        help=t("cli.identity.passphrase_env_help", default=PASSPHRASE_ENV),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from p2pchat.store import identity as store

    try:
        return _run(args)
    except store.IdentityError as error:
        print(f"p2pchat: {error_text(error)}", file=sys.stderr)
        return error.exit_code


def _run(args: argparse.Namespace) -> int:
    from p2pchat.store import identity as store
    from p2pchat.store import paths
    from p2pchat.store.atomic import write_atomic

    env_var: str = args.passphrase_env

    def current_passphrase() -> str | None:
        return store.ask_passphrase(t("cli.prompts.passphrase"), env_var=env_var)

    path = paths.identity_path()
    if args.new:
        new_passphrase = _new_passphrase(env_var) if args.seal else None
        if path.exists():
            backup = _backup_path(path)
            write_atomic(backup, path.read_bytes(), 0o600, exclusive=True)
            print(t("cli.identity.backup", path=backup), file=sys.stderr)
        ident = store.create(new_passphrase, path=path, replace=True)
        print(t("cli.identity.created_new", path=path), file=sys.stderr)
    else:
        ident = store.load_or_create(None, path=path, ask=current_passphrase)
        if ident.created:
            print(t("cli.identity.created", path=path), file=sys.stderr)
        if args.seal:
            if ident.sealed and not sys.stdin.isatty():
                print(t("cli.identity.already_sealed"), file=sys.stderr)
                return EXIT_USAGE
            from_env = None if ident.sealed else env_var
            ident = store.save(ident, _new_passphrase(from_env))
            print(t("cli.identity.now_sealed", path=path), file=sys.stderr)
            _seal_contact_secrets(ident.signing_key)

    if args.json:
        record = {
            "fingerprint": ident.fingerprint,
            "sealed": ident.sealed,
            "created": ident.created,
            "path": str(ident.path),
        }
        print(json.dumps(record))
    else:
        print(ident.fingerprint)
        print(f"p2pchat: {sealed_status(ident.sealed, ident.path)}", file=sys.stderr)
    return EXIT_OK


def sealed_status(sealed: bool, path: Path) -> str:
    """Whether the identity (and the contacts' reconnect secrets) are sealed, in plain words."""
    if sealed:
        return t("cli.identity.sealed")
    return t("cli.identity.not_sealed", path=path)


def _seal_contact_secrets(signing_key: Any) -> None:
    """Seal the contact book's secrets now, with the identity that was just sealed."""
    from p2pchat.core.errors import P2PChatError
    from p2pchat.service.contacts import Contacts

    try:
        Contacts.of_identity(signing_key, sealed=True).reseal()
    except P2PChatError as error:
        print(t("cli.identity.secrets_not_sealed", reason=error_text(error)), file=sys.stderr)


def _new_passphrase(env_var: str | None) -> str:
    """A new passphrase from ``env_var`` when set, else typed twice; never empty."""
    from p2pchat.store import identity as store

    if env_var is not None:
        from_env = store.passphrase_from_env(env_var)
        if from_env is not None:
            return from_env
    if not sys.stdin.isatty():
        raise store.PassphraseRequired(t("cli.identity.no_passphrase"))
    typed = store.ask_passphrase(
        t("cli.prompts.new_passphrase"), env_var="", confirm=True, repeat=t("cli.prompts.repeat")
    )
    if not typed:
        raise store.IdentityError(t("cli.identity.empty_passphrase"))
    return typed


def _backup_path(path: Path) -> Path:
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.old-{stamp}")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.old-{stamp}-{counter}")
        counter += 1
    return candidate
