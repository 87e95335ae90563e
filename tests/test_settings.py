from sianode_flows.settings import get_settings


def test_defaults():
    settings = get_settings()
    assert settings.min_capacity == 1500
    assert settings.n_configs == 30
    assert settings.relax_fmax == 0.05 and settings.relax_steps == 1000


def test_yaml_file_then_environment(tmp_path, monkeypatch):
    config = tmp_path / "sianode.yaml"
    config.write_text("n_configs: 12\nstore: /data/sianode\n")
    monkeypatch.setenv("SIANODE_CONFIG_FILE", str(config))
    assert get_settings().n_configs == 12
    assert get_settings().store == "/data/sianode"
    monkeypatch.setenv("SIANODE_N_CONFIGS", "7")
    assert get_settings().n_configs == 7  # read at call time, environment wins
    assert get_settings(n_configs=3).n_configs == 3
