"""latent-atelier-cli eval: JSON out, recorded in the run, one-line errors."""
from __future__ import annotations

import json

from engine.cli.main import main


def test_eval_json_prints_and_records_the_scores(run_copy, capsys):
    assert main(["eval", str(run_copy), "--samples", "20", "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["kind"] == "evaluation" and result["samples"] == 20 and result["fd"] >= 0
    last = json.loads((run_copy / "metrics.jsonl").read_text().splitlines()[-1])
    assert last == result


def test_eval_text_and_no_record(run_copy, capsys):
    before = (run_copy / "metrics.jsonl").read_text()
    assert main(["eval", str(run_copy), "--samples", "20", "--device", "cpu", "--no-record",
                 "--features", "random"]) == 0
    out = capsys.readouterr().out
    assert "FD@20" in out and "random-conv-v1" in out
    assert (run_copy / "metrics.jsonl").read_text() == before


def test_eval_errors_are_one_line(tmp_path, run_copy, capsys):
    assert main(["eval", str(tmp_path), "--samples", "20"]) == 1
    err = capsys.readouterr().err
    assert "not a run folder" in err and len(err.strip().splitlines()) == 1
    assert main(["eval", str(run_copy), "--samples", "1"]) == 1
    assert "samples must be between" in capsys.readouterr().err
