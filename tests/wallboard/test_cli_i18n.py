"""The CLI's messages in the user's language (``wallboard.processes.messages``): the catalogs are complete and
current, the language follows WALLBOARD_LANG / LANGUAGE / LC_ALL / LC_MESSAGES / LANG, and real runs against a
real Redis print Finnish, Czech (three plural forms) or, for a language not shipped, English, with the same exit
status and the same machine-readable output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dash_app.i18n import LANGUAGES as PAGE_LANGUAGES
from wallboard.cli import EXIT_OK, main
from wallboard.errors import EXIT_USAGE
from wallboard.processes import message_catalogs, messages

ROOT = Path(__file__).resolve().parents[2]
SITE_FILE = "site: paris\nqueues: {support: {}, sales: {}}\n"


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    """``main`` sets the process's language: leave English behind for the tests that follow."""
    yield
    messages.use("en")


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The test's Redis, site paris and its site file, no language variable set; returns the Redis URL."""
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE_FILE, encoding="utf-8")
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_SITE", "paris")
    monkeypatch.setenv("WALLBOARD_SITE_FILE", str(site_file))
    for name in messages.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return redis_url


def test_the_catalogs_are_complete_and_current() -> None:
    """Every marked message is in the template and translated in every language, placeholders kept, the .mo
    files compiled from the .po files: what `scripts/i18n check` says."""
    assert message_catalogs.check() == []
    assert set(messages.LANGUAGES) == set(PAGE_LANGUAGES)
    assert len(list(message_catalogs.extract())) > 100


def test_the_check_finds_a_lost_placeholder_and_an_untranslated_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A copy of the catalogs with one translation that drops ``{name}`` and one emptied: both reported."""
    for path in message_catalogs.LOCALES.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    fi = tmp_path / "fi.po"
    text = fi.read_text(encoding="utf-8")
    text = text.replace('msgstr "poistettu taulu {name}"', 'msgstr "poistettu taulu"')
    text = text.replace('msgstr "käyttäjä {name} poistettu käytöstä"', 'msgstr ""')
    fi.write_text(text, encoding="utf-8")
    monkeypatch.setattr(message_catalogs, "LOCALES", tmp_path)
    monkeypatch.setattr(message_catalogs, "TEMPLATE", tmp_path / "cli.pot")
    problems = message_catalogs.check()
    assert any("'deleted board {name}'" in problem and "placeholders" in problem for problem in problems)
    assert any(problem.startswith("fi: 1 untranslated") for problem in problems)
    assert any("fi.mo is out of date" in problem for problem in problems)


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({"WALLBOARD_LANG": "cs", "LANG": "fi_FI.UTF-8"}, "cs"),
        ({"LANGUAGE": "xx:de_AT", "LANG": "fr_FR.UTF-8"}, "de"),
        ({"LC_ALL": "el_GR.UTF-8", "LC_MESSAGES": "nl_NL"}, "el"),
        ({"LC_MESSAGES": "es_ES@euro", "LANG": "fi_FI"}, "es"),
        ({"LANG": "fi_FI.UTF-8"}, "fi"),
        ({"LANG": "ja_JP.UTF-8"}, "en"),
        ({"LC_ALL": "C", "LANG": "fi_FI.UTF-8"}, "en"),
        ({"WALLBOARD_LANG": "", "LANG": "nl_BE"}, "nl"),
        ({}, "en"),
    ],
)
def test_the_language_is_chosen_like_gettext(environ: dict[str, str], lang: str) -> None:
    """The first variable set decides (WALLBOARD_LANG first); a list is tried in order; unknown or C is English."""
    assert messages.negotiate(environ) == lang


def test_czech_counts_take_their_three_forms() -> None:
    messages.use("cs")
    forms = [messages.ngettext("{n} queue", "{n} queues", n).format(n=n) for n in (1, 3, 5)]
    assert forms == ["1 fronta", "3 fronty", "5 front"]


def test_users_add_in_finnish_then_in_an_unknown_language(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`users add` says what it did in Finnish (LANG), the listing stays tab-separated English words; with a
    language not shipped the same command speaks English."""
    monkeypatch.setenv("WALLBOARD_NEW_PASSWORD", "a long enough password")
    monkeypatch.setenv("LANG", "fi_FI.UTF-8")
    assert main(["users", "add", "alice", "--role", "ops"]) == EXIT_OK
    assert main(["users", "list"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "lisätty käyttäjä alice, rooli ops"
    assert out[1].startswith("alice\tops\tactive\tcreated ")
    monkeypatch.setenv("WALLBOARD_LANG", "tlh")
    assert main(["users", "add", "bob", "--role", "viewer"]) == EXIT_OK
    assert capsys.readouterr().out == "added user bob with role viewer\n"


def test_an_invalid_board_in_czech_counts_its_problems(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`boards put` with two and then five problems: exit 2 as in English, the plural form Czech wants, each
    problem still on its own line, nothing stored."""
    monkeypatch.setenv("LANGUAGE", "cs")
    path = tmp_path / "bad.json"
    path.write_text('{"queues": ["nope"], "teams": ["red"]}', encoding="utf-8")
    assert main(["boards", "put", "floor-1", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"wallboard: {path}: 2 problémy, nic nebylo uloženo"
    assert len(err) == 3 and all(line.startswith(f"{path}: ") for line in err[1:])
    many = '{"queues": ["a", "b", "c", "d", "e"]}'
    path.write_text(many, encoding="utf-8")
    assert main(["boards", "put", "floor-1", str(path)]) == EXIT_USAGE
    assert capsys.readouterr().err.splitlines()[0] == f"wallboard: {path}: 5 problémů, nic nebylo uloženo"
    with redis.Redis.from_url(env) as client:
        assert client.hgetall("wb:{paris}:config:boards") == {}


def test_a_subprocess_prints_its_error_and_help_in_finnish(tmp_path: Path) -> None:
    """The installed command, started afresh: a settings error in Finnish on stderr with exit status 2 as in
    English, and the subcommands' one-line help translated."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WALLBOARD_DATA_DIR": str(tmp_path / "data")}
    run = [sys.executable, "-m", "wallboard.cli"]
    refused = subprocess.run(
        [*run, "collect", "ami"], env={**base, "LC_ALL": "fi_FI.UTF-8"}, capture_output=True, text=True, cwd=ROOT
    )
    english = subprocess.run([*run, "collect", "ami"], env=base, capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == english.returncode == EXIT_USAGE
    assert refused.stderr == "wallboard: aseta WALLBOARD_AMI_SECRET AMI-käyttäjän salaisuudeksi (sitä ei koskaan " \
        "lueta komentoriviltä)\n"  # fmt: skip
    assert english.stderr.startswith("wallboard: set WALLBOARD_AMI_SECRET to the AMI user's secret")
    helped = subprocess.run([*run, "--help"], env={**base, "LANG": "fi_FI"}, capture_output=True, text=True, cwd=ROOT)
    assert helped.returncode == EXIT_OK and "aja moottoria: virta -> mittarit" in helped.stdout
