"""``s2w explain``'s flags are strict: a misspelt core flag or an option no selected explainer
declares stops the run before any work, with one line that says what would have been valid."""


def test_a_misspelt_core_flag_is_a_usage_error(run_cli, demo, tmp_path):
    result = run_cli("explain", demo["obama"], demo["biden"], "--face-indx", "3", "--out", tmp_path)
    assert result.exit_code == 2
    assert "no such option: --face-indx (did you mean --face-index?)" in result.stderr
    result = run_cli("explain", demo["obama"], demo["biden"], "--ouut", tmp_path / "x")
    assert result.exit_code == 2 and "no such option: --ouut (did you mean --out?)" in result.stderr
    assert not (tmp_path / "sim2word.json").exists()


def test_an_option_no_selected_explainer_declares_is_refused(run_cli, demo, tmp_path):
    result = run_cli("explain", "-e", "input-gradient", "-o", "window=20", demo["obama"], demo["biden"],
                     "--out", tmp_path)
    assert result.exit_code == 1
    assert "unknown option 'window' for the selected explainers (input-gradient)" in result.stderr
    assert "valid: batch_size" in result.stderr
    result = run_cli("explain", "-e", "sim2word", "-o", "erase_threshold=high", demo["obama"], demo["biden"],
                     "--out", tmp_path)
    assert result.exit_code == 1 and "erase_threshold" in result.stderr and "float" in result.stderr


def test_help_options_lists_types_and_defaults(run_cli):
    result = run_cli("explain", "-e", "sim2word", "-e", "input-gradient", "--help-options")
    assert result.exit_code == 0
    assert "erase_threshold" in result.stdout and "0.6" in result.stdout and "float" in result.stdout
    assert "input-gradient" in result.stdout
