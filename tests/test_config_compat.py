"""Configs and code written for the original Model Foundry keep working."""
import pytest
import yaml
from pydantic import ValidationError

from model_foundry.config import ConfigError, ExperimentConfig, inert_settings, load_config

pytestmark = pytest.mark.unit

# A config as the original's experiment generator wrote them: every logging field, the schedule label, nulls.
ORIGINAL = """
experiment_name: exp1_remove_expletives
data:
  source_corpus: data/raw/train_90M/
  training_corpus: data/processed/exp1_remove_expletives/
  test_corpus: data/raw/test_10M/
  batch_size: 256
  max_sequence_length: 1000
tokenizer:
  output_dir: tokenizers/exp1_remove_expletives/
  vocab_size: 50004
model:
  layers: 12
  embedding_size: 768
  hidden_size: 768
  intermediate_hidden_size: 3072
  attention_heads: 12
  activation_function: gelu
  dropout: 0.1
  attention_dropout: 0.1
training:
  output_dir: models/exp1_remove_expletives/
  learning_rate: 0.0001
  adam_beta1: 0.9
  adam_beta2: 0.999
  adam_epsilon: 1.0e-06
  warmup_steps: 10000
  train_steps: 1000000
  epochs: 20
  checkpointing_strategy: log_steps_first_epoch
  checkpoint_schedule: null
  auto_generate_checkpoints: true
  first_epoch_checkpoints: 20
  subsequent_epochs_spacing: log
  log_base: 2
  min_checkpoint_interval: 100
  resume_from_checkpoint: false
  use_amp: true
  gradient_accumulation_steps: 1
  use_tf32: true
  use_gradient_checkpointing: false
logging:
  level: INFO
  console_level: INFO
  file_level: DEBUG
  dir: logs
  use_structured_logging: true
  use_wandb: true
  wandb_project: just-drop-the-data
  max_log_files: 10
  max_log_size_mb: 100
  log_metrics_every_n_steps: 10
  log_detailed_metrics_every_n_steps: 100
  profile_performance: false
  log_memory_every_n_steps: 100
  max_errors_to_track: 1000
random_seed: 42
dataset_manipulation: null
"""


def test_an_original_config_loads_unchanged(tmp_path):
    path = tmp_path / "exp1.yaml"
    path.write_text(ORIGINAL)
    cfg = load_config(path)
    assert cfg.training.checkpoint_schedule == [] and cfg.dataset_manipulation == []
    assert cfg.training.log_base == 2 and cfg.logging.log_metrics_every_n_steps == 10
    assert inert_settings(cfg) == [  # max_errors_to_track is at its default: nothing to say about it
        "training.checkpointing_strategy has no effect in Model Foundry (the checkpoint schedule is set by "
        "checkpoint_schedule or auto_generate_checkpoints and its fields)"]
    cfg.logging.max_errors_to_track = 50
    assert inert_settings(cfg)[-1] == ("logging.max_errors_to_track has no effect in Model Foundry (a run stops at "
                                       "its first error, which goes to the log file)")


def test_keys_of_older_versions_get_advice(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(ORIGINAL.replace("  log_base: 2\n", "  log_base: 2\n  target_checkpoints: {small: 20}\n"))
    with pytest.raises(ConfigError, match="'training.target_checkpoints' is an older Model Foundry's schedule"):
        load_config(path)


def test_the_original_defaults(tiny_config):
    t, lg = tiny_config.training, tiny_config.logging
    assert (t.warmup_ratio, t.use_amp, t.gradient_accumulation_steps, t.max_grad_norm) == (0.1, False, 1, None)
    assert (t.train_steps, t.warmup_steps, t.resume_from_checkpoint, t.checkpoint_schedule) == (10, 2, False, [])
    assert (lg.level, lg.dir, lg.use_wandb, lg.wandb_project) == ("INFO", "test/logs", False, None)
    assert tiny_config.data.test_corpus is None and tiny_config.dataset_manipulation == []


def test_validation_errors_are_pydantic_errors_naming_the_field(invalid_config_data):
    with pytest.raises(ValidationError) as e:
        ExperimentConfig(**invalid_config_data)
    for field in ("batch_size", "vocab_size", "layers", "dropout", "learning_rate", "adam_epsilon", "epochs"):
        assert field in str(e.value)


def test_assignment_is_validated_and_steps_become_models(tiny_config):
    tiny_config.dataset_manipulation = [{"type": "remove_expletives", "input_path": "a", "output_path": "b"}]
    assert tiny_config.dataset_manipulation[0].parameters == {}
    with pytest.raises(ValidationError):
        tiny_config.training.learning_rate = -1


def test_dump_and_rebuild(tiny_config, temp_config_file):
    assert ExperimentConfig(**tiny_config.model_dump()) == tiny_config
    assert load_config(temp_config_file) == tiny_config
    assert yaml.safe_load(open(temp_config_file))["experiment_name"] == "test_exp"


def test_create_model_from_the_fixture(tiny_model, tiny_config):
    assert tiny_model.config.n_layer == 2 and tiny_model.config.vocab_size == tiny_config.tokenizer.vocab_size
