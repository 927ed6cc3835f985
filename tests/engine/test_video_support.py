"""Whether video works here, and the message when it does not."""
from __future__ import annotations

import sys

import pytest

from engine.errors import ConfigError
from engine.media.video_support import load_av, video_unavailable


def test_video_is_available_with_the_installed_av():
    pytest.importorskip("av")
    assert video_unavailable() is None
    assert load_av(ConfigError, "MP4 export", "use GIF").__name__ == "av"


def test_from_source_the_message_says_how_to_install_av(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    assert video_unavailable() == "video needs the av package (pip install av)"
    with pytest.raises(ConfigError, match=r"^MP4 export is unavailable: video needs the av "
                                          r"package \(pip install av\); use GIF$"):
        load_av(ConfigError, "MP4 export", "use GIF")


def test_a_frozen_build_without_video_says_the_full_build_has_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    reason = video_unavailable()
    assert "this build of Latent Atelier leaves out video" in reason
    assert "pip" not in reason      # an installed app has no pip to run


def test_an_av_that_is_found_but_does_not_load_is_reported(monkeypatch):
    pytest.importorskip("av")
    import builtins

    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "av":
            raise ImportError("libavcodec.so.62: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "av", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.raises(ConfigError, match="installed but does not load .*libavcodec"):
        load_av(ConfigError, "MP4 export", "use GIF")
