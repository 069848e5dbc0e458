"""`reynard store`: days with their counts, and retention by day; `reynard demo --no-serve`."""

from click.testing import CliRunner

from reynard.cli import main


def test_demo_sample_then_days_and_drop(tmp_path):
    runner = CliRunner()
    data = str(tmp_path / "data")
    demo = runner.invoke(main, ["demo", "--data-dir", data, "--events", "3000", "--no-serve"])
    assert demo.exit_code == 0, demo.output
    assert "read 3000 stored 3000 rejected 0" in demo.output

    days = runner.invoke(main, ["store", "days", "--data-dir", data])
    rows = [line.split() for line in days.stdout.splitlines()]
    assert sum(int(count) for _, count in rows) == 3000
    first_day = rows[0][0]

    dropped = runner.invoke(main, ["store", "drop", first_day, "--data-dir", data])
    assert dropped.exit_code == 0 and f"deleted {first_day}" in dropped.stdout
    after = runner.invoke(main, ["store", "days", "--data-dir", data]).stdout
    assert first_day not in after

    missing = runner.invoke(main, ["store", "drop", "1999-01-01", "--data-dir", data])
    assert missing.exit_code == 2 and "no events stored for 1999-01-01" in missing.stderr
    bad = runner.invoke(main, ["store", "drop", "yesterday", "--data-dir", data])
    assert bad.exit_code == 2


def test_a_bad_settings_file_is_one_line(tmp_path):
    config = tmp_path / "reynard.toml"
    config.write_text('internal_cidrs = ["10.0.0.0/33"]\n')
    result = CliRunner().invoke(main, ["--config", str(config), "store", "days"])
    assert result.exit_code == 2
    assert "internal_cidrs" in result.stderr and "Traceback" not in result.output
