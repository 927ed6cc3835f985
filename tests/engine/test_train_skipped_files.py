"""Files a folder could not use are named at the start of `train` and kept in the
run's config (issue 22, item 12: they were skipped without a word)."""
from __future__ import annotations

import json

from engine.cli.main import main
from engine.data.report import LoadReport, SkippedFile
from engine.training import TrainConfig, train


def folder_config(pictures, **overrides) -> TrainConfig:
    # 3 usable pictures, 3 damaged files (text, empty, truncated).
    values = dict(model="dcgan", data=f"folder:{pictures['square'].parent}", image_size=28,
                  width=8, batch_size=2, steps=2, device="cpu", report_seconds=0.0,
                  data_cache=False)
    return TrainConfig(**{**values, **overrides})


def test_train_tells_what_it_skipped_and_records_it(pictures, tmp_path):
    events = list(train(folder_config(pictures), tmp_path / "run"))
    names = [type(e).__name__ for e in events]
    notices = [e for e in events if type(e).__name__ == "Notice" and e.kind == "files-skipped"]
    assert len(notices) == 1 and names.index("Notice") == names.index("RunStarted") + 1
    message = notices[0].message
    assert message.startswith("3 of 6 file(s) in folder:") and "skipped" in message
    assert "notes.png: " in message and "empty.png: " in message   # names with reasons
    assert str(pictures["square"].parent) + "/" not in message          # short names
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["data"]["skipped"]
    assert recorded["count"] == 3 and recorded["found"] == 6
    assert {r["path"] for r in recorded["first"]} == {
        str(pictures[k]) for k in ("text", "empty", "truncated")}
    assert all(r["reason"] for r in recorded["first"])


def test_the_cli_prints_the_count_and_first_files_at_the_start(pictures, tmp_path, capsys):
    config = folder_config(pictures)
    assert main(["train", "--data", config.data, "--width", "8", "--batch-size", "2",
                 "--device", "cpu", "--steps", "2", "--no-preset", "--no-data-cache",
                 "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    note = [line for line in err.splitlines() if line.startswith("note: 3 of 6 file(s)")]
    assert len(note) == 1 and "truncated.png: " in note[0]


def test_a_clean_folder_records_and_says_nothing(tmp_path, pictures):
    import shutil

    clean = tmp_path / "clean"
    clean.mkdir()
    for key in ("square", "bar", "rgba"):
        shutil.copy(pictures[key], clean)
    events = list(train(folder_config(pictures, data=f"folder:{clean}"), tmp_path / "run"))
    assert not [e for e in events if type(e).__name__ == "Notice"]
    assert "skipped" not in json.loads((tmp_path / "run" / "config.json").read_text())["data"]


def test_the_line_names_only_the_first_few_and_counts_the_rest():
    report = LoadReport("folder:/d", found=10, skipped=tuple(
        SkippedFile(f"/d/{('cat', 'dog')[i % 2]}/{i}.png", "cannot decode") for i in range(5)))
    line = report.skipped_line(shown=2)
    assert "cat/0.png: cannot decode; dog/1.png: cannot decode; and 3 more" in line
    assert "2.png" not in line and len(line.splitlines()) == 1
    assert report.skipped_record(limit=2)["count"] == 5
    assert len(report.skipped_record(limit=2)["first"]) == 2
