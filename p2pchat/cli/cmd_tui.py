"""The terminal app from the command line: bare ``p2pchat``, ``p2pchat invite``, ``p2pchat join``.

``run_home`` opens the home screen (``cli/main.py`` calls it when no command is
given); ``invite`` starts making an invite at once; ``join`` opens the code
field (prefilled and submitted when ``$P2PCHAT_CODE`` is set: codes are never
taken from argv, where other users could read them). Textual is imported only
when a command runs, so ``p2pchat --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from p2pchat.cli.options import add_network_options, display_name
from p2pchat.core.exit_status import EXIT_OK, EXIT_USAGE
from p2pchat.i18n import get_language, set_language, t
from p2pchat.i18n.error_words import error_text


def _add_tui_options(parser: argparse.ArgumentParser) -> None:
    add_network_options(parser)
    parser.add_argument("--lang", choices=("en", "ja"), default=None, help=t("cli.lang_help"))
    parser.add_argument(
        "--images", choices=("auto", "halfcell"), default="auto", help=t("cli.renderer_help")
    )
    parser.add_argument("--name", default="", type=display_name, help=argparse.SUPPRESS)


def register(subparsers: Any) -> None:
    home = subparsers.add_parser(
        "home", help=t("cli.home_help"), description=t("cli.home_description")
    )
    _add_tui_options(home)
    home.set_defaults(func=run_home)
    invite = subparsers.add_parser(
        "invite", help=t("cli.invite_help"), description=t("cli.invite_description")
    )
    _add_tui_options(invite)
    invite.set_defaults(func=lambda args: _run(args, "invite"))
    join = subparsers.add_parser(
        "join", help=t("cli.join_help"), description=t("cli.join_description")
    )
    _add_tui_options(join)
    join.set_defaults(func=lambda args: _run(args, "join"))


def run_home(args: argparse.Namespace) -> int:
    """Bare ``p2pchat``: the home screen, with default network settings."""
    return _run(args, "home")


def _identity_key() -> tuple[Any, Any]:
    """This install's signing key and its ``Identity`` (None: a fresh key without a store)."""
    import nacl.signing

    try:
        from p2pchat.service.profile import load_identity
    except ImportError:
        return nacl.signing.SigningKey.generate(), None
    identity = load_identity()
    return identity.signing_key, identity


def _seal_offer(identity: Any, contacts: Any) -> Callable[[str], None] | None:
    """For a just-created unsealed identity: seal it (and the contacts' secrets) on request."""
    if identity is None or identity.sealed or not identity.created:
        return None

    def seal(passphrase: str) -> None:
        from p2pchat.service.profile import seal_identity

        seal_identity(identity, passphrase, contacts)

    return seal


def _settings() -> Any:
    """The settings file; one that cannot be used stops the app (never the defaults)."""
    from p2pchat.service.profile import load_settings

    return load_settings()


def _run(args: argparse.Namespace, start: str) -> int:
    from p2pchat.service.profile import SettingsError

    try:
        settings = _settings()
    except SettingsError as error:
        print(f"p2pchat: {error_text(error)}", file=sys.stderr)
        return EXIT_USAGE
    # --lang wins, then the settings file's language ("auto": the locale).
    set_language(getattr(args, "lang", None) or settings.language)
    from p2pchat.core.crypto import fingerprint
    from p2pchat.core.errors import P2PChatError

    try:
        identity, stored = _identity_key()
    except P2PChatError as error:
        print(f"p2pchat: {t('cli.identity_error', reason=error_text(error))}", file=sys.stderr)
        return error.exit_code

    from p2pchat.cli.options import ice_from_args, mailbox_from_args
    from p2pchat.service import ServiceConfig
    from p2pchat.service.contacts import Contacts

    contacts = Contacts.of_identity(identity, sealed=stored is not None and stored.sealed)
    network = argparse.Namespace(
        mailbox=getattr(args, "mailbox", None),
        stun=getattr(args, "stun", None),
        turn=getattr(args, "turn", None),
        turn_user=getattr(args, "turn_user", None),
        turn_credential_env=getattr(args, "turn_credential_env", "P2PCHAT_TURN_CREDENTIAL"),
        turn_secret_env=getattr(args, "turn_secret_env", "P2PCHAT_TURN_SECRET"),
        relay_only=getattr(args, "relay_only", False),
        loopback=getattr(args, "loopback", False),
        no_stun=getattr(args, "no_stun", False),
        transit_relay=getattr(args, "transit_relay", None),
        no_transit=getattr(args, "no_transit", False),
    )
    config = ServiceConfig(
        mailbox_url=mailbox_from_args(network),
        ice=ice_from_args(network),  # type: ignore[arg-type]
        loopback=bool(getattr(args, "loopback", False)),
        identity=identity,
        # --name for this run; else the display name from the settings (asked on first run).
        label=getattr(args, "name", "") or getattr(settings, "display_name", "") or "",
        # Pin the peer's key on first pairing; refuse a changed key or a blocked contact.
        peer_check=contacts.guard(),
        # Photos are sent from here: a worker with the picture check loaded waits for each.
        warm_send_worker=True,
    )
    from p2pchat.tui.app import make_app
    from p2pchat.tui.widgets.image_view import load_image_support

    # textual-image asks the terminal about its graphics support; that must happen
    # before Textual takes the terminal over.
    renderer = load_image_support(getattr(args, "images", "auto"))

    code = os.environ.get("P2PCHAT_CODE", "") if start == "join" else ""
    app = make_app(
        config,
        fingerprint=fingerprint(bytes(identity.verify_key)),
        start=start,  # type: ignore[arg-type]
        code=code,
        image_renderer=renderer,
        settings=settings,
        language=get_language(),
        seal_offer=_seal_offer(stored, contacts),
    )
    result = app.run()
    return int(result) if isinstance(result, int) else EXIT_OK
