from sianode_flows.settings import get_settings


def test_defaults():
    settings = get_settings()
    assert settings.min_capacity == 1500
    assert settings.n_configs == 30
    assert settings.relax_fmax == 0.05 and settings.relax_steps == 1000


def test_verdict_defaults_are_those_of_the_science():
    """The settings repeat analysis.sequential's defaults (importing it would be slow)."""
    from sianode_flows.analysis import sequential

    settings = get_settings()
    assert settings.min_configs == sequential.DEFAULT_MIN_CONFIGS
    assert settings.spending == sequential.DEFAULT_SPENDING
    assert settings.margin == sequential.DEFAULT_MARGIN
    assert (settings.first_round, settings.round_size, settings.max_configs) == (20, 10, 120)
    assert settings.reference == "builtin:Li15Si4"


def test_yaml_file_then_environment(tmp_path, monkeypatch):
    config = tmp_path / "sianode.yaml"
    config.write_text("n_configs: 12\nstore: /data/sianode\n")
    monkeypatch.setenv("SIANODE_CONFIG_FILE", str(config))
    assert get_settings().n_configs == 12
    assert get_settings().store == "/data/sianode"
    monkeypatch.setenv("SIANODE_N_CONFIGS", "7")
    assert get_settings().n_configs == 7  # read at call time, environment wins
    assert get_settings(n_configs=3).n_configs == 3
