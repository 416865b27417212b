"""The CLI speaks the language asked for (issue 16 §2): ``--lang`` on any command, else
the locale (``LANG=ja_JP.UTF-8``); the flag wins over the locale. No network is used:
these are the messages a command gives before it would connect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2pchat.cli.main import build_parser

JAPANESE = ("連絡先", "送るもの")


def p2pchat(*args: str, lang: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "P2PCHAT_"))}
    env |= {"LANG": lang, "P2PCHAT_CONFIG_DIR": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "p2pchat", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "lang", "japanese"),
    [
        (["chat", "--lang", "ja"], "C.UTF-8", "連絡先の名前"),
        (["chat"], "ja_JP.UTF-8", "連絡先の名前"),
        (["send", "--lang", "ja"], "C.UTF-8", "送るものがありません"),
        (["send"], "ja_JP.UTF-8", "送るものがありません"),
    ],
)
def test_usage_messages_follow_the_flag_or_the_locale(
    args: list[str], lang: str, japanese: str, tmp_path: Path
) -> None:
    done = p2pchat(*args, lang=lang, config=tmp_path)
    assert done.returncode == 2, done.stderr
    assert japanese in done.stderr


def test_the_flag_wins_over_the_locale(tmp_path: Path) -> None:
    done = p2pchat("send", "--lang", "en", lang="ja_JP.UTF-8", config=tmp_path)
    assert "nothing to send" in done.stderr
    assert not any(word in done.stderr for word in JAPANESE)


def test_every_command_takes_lang() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert len(subparsers.choices) > 10
    for name, command in subparsers.choices.items():
        options = {s for action in command._actions for s in action.option_strings}
        assert "--lang" in options, name


def test_identity_speaks_the_locale(tmp_path: Path) -> None:
    first = p2pchat("identity", lang="ja_JP.UTF-8", config=tmp_path)
    assert (
        first.returncode == 0
        and "新しい ID" in first.stderr
        and "保護されていません" in first.stderr
    )
    renewed = p2pchat("identity", "--new", lang="ja_JP.UTF-8", config=tmp_path)
    assert renewed.returncode == 0 and "鍵が変わった" in renewed.stderr, renewed.stderr
    assert "created" not in renewed.stderr and "contacts will see" not in renewed.stderr


def test_contacts_speaks_the_locale(tmp_path: Path) -> None:
    empty = p2pchat("contacts", lang="ja_JP.UTF-8", config=tmp_path)
    assert empty.returncode == 0 and "連絡先はまだありません" in empty.stderr
    missing = p2pchat(
        "contacts", "block", "nobody", "--lang", "ja", lang="C.UTF-8", config=tmp_path
    )
    assert missing.returncode == 2 and "という連絡先はありません" in missing.stderr


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_help_fits_the_terminal_in_cells(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argparse wrapped by characters at spaces: Japanese help came out twice as wide."""
    from p2pchat.i18n import set_language
    from p2pchat.i18n.linebreak import cells

    monkeypatch.setenv("COLUMNS", "80")
    set_language(language)
    try:
        parser = build_parser()
        subparsers = next(a for a in parser._actions if a.dest == "command")
        # The top level's epilog is the exit-code table, kept as written (raw).
        helps = [c.format_help() for c in subparsers.choices.values()]
    finally:
        set_language("en")
    too_wide = [line for text in helps for line in text.splitlines() if cells(line) > 80]
    # A usage line or an option name argparse will not break is not ours to fix.
    too_wide = [
        line for line in too_wide if " " in line.strip() and not line.lstrip().startswith("-")
    ]
    assert too_wide == []
    if language == "ja":
        assert "待ち合わせ" in "".join(helps) and "STUN サーバーを使いません" in "".join(helps)
