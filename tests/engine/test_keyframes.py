"""engine.studio.keyframes: timelines, easing, slerp, per-frame latents and class mixtures."""
from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from engine.studio.keyframes import (Keyframe, Timeline, eased, frame_schedule, slerp,
                              timeline_class_weights, timeline_latents)


def keyframe_latents(k=3, dim=16, seed=0):
    return torch.randn(k, dim, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("loop, expected", [(False, 2 * 5 + 1), (True, 3 * 5)])
def test_frame_count(loop, expected):
    timeline = Timeline.from_seeds([1, 7, 42], frames_between=4, loop=loop)
    assert timeline.frame_count() == expected
    assert timeline_latents(keyframe_latents(), timeline).shape == (expected, 16)


@pytest.mark.parametrize("interpolation", ["slerp", "lerp"])
@pytest.mark.parametrize("ease", ["linear", "in-out"])
def test_keyframes_are_hit_exactly(interpolation, ease):
    z = keyframe_latents()
    timeline = Timeline.from_seeds([1, 7, 42], frames_between=5, ease=ease, interpolation=interpolation)
    walk = timeline_latents(z, timeline)
    for k, position in enumerate(timeline.keyframe_positions()):
        torch.testing.assert_close(walk[position], z[k], atol=1e-5, rtol=0)
    torch.testing.assert_close(walk[-1], z[-1], atol=1e-5, rtol=0)


def test_loop_ends_one_step_before_the_first_keyframe():
    z = keyframe_latents()
    timeline = Timeline.from_seeds([1, 7, 42], frames_between=6, loop=True)
    walk = timeline_latents(z, timeline)
    steps = (walk - walk.roll(-1, dims=0)).norm(dim=1)   # includes last -> first
    assert steps[-1] <= steps.max() + 1e-6
    assert steps[-1] > 0
    # The wrap-around step is like the others of its segment, not a jump.
    assert steps[-1].item() == pytest.approx(steps[-2].item(), rel=0.2)


def test_slerp_keeps_the_norm_and_lerp_does_not():
    a, b = keyframe_latents(2, 512).chunk(2)
    t = torch.tensor([0.5])
    middle_s, middle_l = slerp(a, b, t), a + (b - a) * 0.5
    assert middle_s.norm().item() == pytest.approx((a.norm() + b.norm()).item() / 2, rel=0.05)
    assert middle_l.norm() < 0.8 * middle_s.norm()   # the grey middle of a straight walk


def test_slerp_of_parallel_latents_is_finite():
    a = torch.ones(1, 8)
    out = slerp(a, a * 2, torch.tensor([0.25]))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, a * 1.25)


def test_ease_in_out_lingers_at_keyframes():
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    e = eased(t, "in-out")
    assert e[0] == 0 and e[-1] == 1 and e[5].item() == pytest.approx(0.5)
    assert e[1] < t[1] and e[9] > t[9]
    torch.testing.assert_close(eased(t, "linear"), t)


def test_schedule_of_an_open_walk_ends_on_the_last_keyframe():
    start, end, t = frame_schedule(Timeline.from_seeds([1, 2, 3], frames_between=1))
    assert start.tolist() == [0, 0, 1, 1, 1]
    assert end.tolist() == [1, 1, 2, 2, 2]
    assert t.tolist() == [0, 0.5, 0, 0.5, 1]


def test_class_weights_blend_between_keyframes():
    timeline = Timeline.from_seeds([1, 2], labels=[3, 5], frames_between=3)
    weights = timeline_class_weights(timeline, 10)
    assert weights.shape == (5, 10)
    assert weights[0, 3] == 1 and weights[-1, 5] == 1
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(5))
    assert weights[2, 3].item() == pytest.approx(0.5) and weights[2, 5].item() == pytest.approx(0.5)


def test_class_weights_for_unconditional_models_or_no_labels():
    assert timeline_class_weights(Timeline.from_seeds([1, 2], labels=[0, 1]), 0) is None
    assert timeline_class_weights(Timeline.from_seeds([1, 2]), 10) is None


@pytest.mark.parametrize("labels, message", [([0, None], "every keyframe a class"),
                                             ([0, 12], "class 12 is out of range")])
def test_bad_class_labels(labels, message):
    with pytest.raises(ConfigError, match=message):
        timeline_class_weights(Timeline.from_seeds([1, 2], labels=labels), 10)


def test_dict_round_trip():
    timeline = Timeline.from_seeds([5, 9, 11], labels=[1, 2, 3], frames_between=12, ease="in-out",
                                   loop=True, interpolation="lerp")
    assert Timeline.from_dict(timeline.to_dict()) == timeline


@pytest.mark.parametrize("settings, message", [
    ({"seeds": [1]}, "between 2 and 256 keyframes"),
    ({"seeds": [1, -3]}, "seed must be a whole number"),
    ({"seeds": [1, 2], "frames_between": -1}, "frames between keyframes"),
    ({"seeds": [1, 2], "frames_between": 2.5}, "frames between keyframes"),
    ({"seeds": [1, 2], "ease": "bounce"}, "easing must be one of linear, in-out"),
    ({"seeds": [1, 2], "interpolation": "cubic"}, "interpolation must be one of"),
    ({"seeds": list(range(200)), "frames_between": 1000}, "the most is 20,000"),
])
def test_bad_timelines(settings, message):
    seeds = settings.pop("seeds")
    with pytest.raises(ConfigError, match=message):
        Timeline.from_seeds(seeds, **settings)


@pytest.mark.parametrize("saved", [None, {}, {"keyframes": [3]}, {"keyframes": [{"seed": "x"}, {"seed": 1}]},
                                   {"keyframes": [{"seed": 1}, {"seed": 2}], "loop": "yes"}])
def test_malformed_saved_timelines(saved):
    with pytest.raises(ConfigError):
        Timeline.from_dict(saved)


def test_label_count_must_match():
    with pytest.raises(ConfigError, match="2 labels for 3 seeds"):
        Timeline.from_seeds([1, 2, 3], labels=[0, 1])


def test_keyframe_dict_omits_missing_label():
    assert Keyframe(4).to_dict() == {"seed": 4}
    assert Keyframe(4, 2).to_dict() == {"seed": 4, "label": 2}


def test_a_huge_value_in_a_saved_timeline_is_shown_short():
    with pytest.raises(ConfigError) as caught:
        Timeline.from_dict({"keyframes": [{"seed": 1}, {"seed": 2}], "ease": "x" * 100_000})
    assert len(str(caught.value)) < 200 and str(caught.value).endswith("...")


# -- `keyframes FILE` on hostile or invalid files (issue 22, item 10) -------------------
def _gif_with_comment(path, comment: str | bytes):
    from PIL import Image

    Image.new("P", (4, 4)).save(path, comment=comment.encode() if isinstance(comment, str) else comment)
    return path


def _keyframes_cli(*argv) -> int:
    from engine.cli.main import main

    return main(["keyframes", *map(str, argv)])


@pytest.mark.parametrize("timeline", [
    {"keyframes": [{"seed": -1}, {"seed": 2}]},
    {"keyframes": [{"seed": 1}, {"seed": 2}], "frames_between": "many"},
    {"keyframes": "1,2"},
])
def test_keyframes_with_invalid_keyframes_fails_with_one_line(tmp_path, capsys, timeline):
    import json

    path = _gif_with_comment(tmp_path / "bad.gif", json.dumps({"run": "r", "timeline": timeline}))
    assert _keyframes_cli(path) == 1
    assert _keyframes_cli(path, "--json") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0].startswith(f"error: {path}: its keyframes are not valid (")


@pytest.mark.parametrize("info, message", [
    ({"seeds": "12"}, "seeds must be a list of whole numbers, not '12'"),
    ({"kind": "process", "seeds": 7}, "seeds must be a list of whole numbers, not 7"),
    ({"seed": [[1]]}, "seeds must be a list of whole numbers"),
])
def test_keyframes_with_seeds_of_the_wrong_type_fails_with_one_line(tmp_path, capsys, info, message):
    import json

    path = _gif_with_comment(tmp_path / "bad.gif", json.dumps(info))
    assert _keyframes_cli(path) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Error" not in err


def test_keyframes_of_a_morph_or_timelapse_still_lists_its_provenance(tmp_path, capsys):
    import json

    path = _gif_with_comment(tmp_path / "m.gif", json.dumps({"kind": "morph", "inputs": 3, "run": "r"}))
    assert _keyframes_cli(path) == 0
    assert "no keyframes: m.gif: has no keyframe seeds (it is a reconstruction morph of unnamed" \
        in capsys.readouterr().out


def test_keyframes_shows_terminal_escapes_from_metadata_visibly(tmp_path, capsys):
    import json

    info = {"run": "\x1b]0;pwned\x07r\x1b[2J", "model": "dcgan\x1b[8m", "app_version": "1\u202e",
            "timeline": {"keyframes": [{"seed": 1}, {"seed": 2}], "ease": "linear"}}
    path = _gif_with_comment(tmp_path / "walk.gif", json.dumps(info))
    assert _keyframes_cli(path) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "from run \\x1b]0;pwned\\x07r\\x1b[2J (model dcgan\\x1b[8m" in out
    assert "keyframes 1,2; 24 frames between" in out
    path = _gif_with_comment(tmp_path / "m.gif", json.dumps({"kind": "morph", "inputs": ["a\x1bb.png"]}))
    assert _keyframes_cli(path) == 0
    assert "morph of a\\x1bb.png;" in capsys.readouterr().out


def test_keyframes_of_a_gif_comment_nested_deep_is_one_line(tmp_path, capsys):
    path = _gif_with_comment(tmp_path / "deep.gif", '{"timeline": ' + "[" * 5000 + "]" * 5000 + "}")
    assert _keyframes_cli(path) == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}: its Latent Atelier metadata is damaged " \
                  "(nested 5001 levels deep (at most 64 allowed))\n"
