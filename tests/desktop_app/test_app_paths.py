"""The GUI's QStandardPaths folders and the engine's Qt-free ones are the same."""
from __future__ import annotations

import pytest

from desktop_app import app_paths
from engine.storage import paths


@pytest.fixture
def identity(qapp):
    name, org = qapp.applicationName(), qapp.organizationName()
    app_paths.set_application_identity(qapp)
    yield qapp
    qapp.setApplicationName(name)
    qapp.setOrganizationName(org)


def test_qt_app_data_folder_is_the_engines(identity, tmp_path, monkeypatch):
    monkeypatch.delenv("LATENT_ATELIER_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert app_paths.app_data_dir() == paths.user_data_dir() == tmp_path / "xdg" / "LatentAtelier"
    assert app_paths.logs_dir() == paths.logs_dir()


def test_the_override_moves_everything(identity, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_ATELIER_HOME", str(tmp_path / "portable"))
    assert app_paths.app_data_dir() == paths.user_data_dir() == tmp_path / "portable"
    assert app_paths.self_test_dir() == tmp_path / "portable" / "self-test"
    assert paths.default_runs_dir() == tmp_path / "portable" / "runs"
