"""`latent-atelier --self-test OUTDIR` from source (the frozen build: tests/packaging)."""
from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import qInstallMessageHandler

from desktop_app import app, app_logging


@pytest.fixture
def headless(qapp, monkeypatch):
    """Two self-test steps; leave the process' logging and crash handler as they were."""
    monkeypatch.setattr("engine.self_test.SELF_TEST_STEPS", 2)
    monkeypatch.setattr(app_logging, "_crash_file", object())  # faulthandler stays pytest's
    root = logging.getLogger()
    handlers, name, org = list(root.handlers), qapp.applicationName(), qapp.organizationName()
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    qInstallMessageHandler(None)
    qapp.setApplicationName(name)
    qapp.setOrganizationName(org)


def test_self_test_flag_trains_exports_and_exits_zero(headless, tmp_path, capsys,
                                                      private_user_data):
    code = app.main(["latent-atelier", "--self-test", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "window ready in" in printed and "self-test: passed" in printed
    assert (tmp_path / "out" / "timelapse.gif").exists()
    assert (tmp_path / "out" / "self-test.txt").read_text().splitlines()[1:3] == \
        printed.splitlines()[1:3]
    log = (private_user_data / "logs" / "latent-atelier.log").read_text()
    assert "self-test: passed" in log


def test_self_test_failure_exits_non_zero_with_the_reason(headless, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run").write_text("in the way")
    assert app.main(["latent-atelier", "--self-test", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "self-test FAILED: training failed:" in printed and "is a file" in printed
    assert "FAILED" in (out / "self-test.txt").read_text()


def test_unknown_arguments_are_left_for_qt():
    options, rest = app.parse_arguments(["--self-test", "x", "-platform", "offscreen"])
    assert options.self_test == "x" and rest == ["-platform", "offscreen"]
    assert options.open is None


def test_a_bare_argument_is_a_bundle_to_open():
    options, rest = app.parse_arguments(["-platform", "xcb", "/home/a/digits.atelier.safetensors"])
    assert options.open == "/home/a/digits.atelier.safetensors" and rest == ["-platform", "xcb"]
