__version__ = "0.1.0"

# The public names load on first use, so `import model_foundry` stays light (no torch until it is needed).
_exports = {"Trainer": "model_foundry.trainer", "ExperimentConfig": "model_foundry.config",
            "load_config": "model_foundry.config", "ConfigError": "model_foundry.config",
            "FoundryError": "model_foundry.config"}
__all__ = list(_exports)

def __getattr__(name):
    if name in _exports:
        import importlib
        return getattr(importlib.import_module(_exports[name]), name)
    raise AttributeError(f"module 'model_foundry' has no attribute {name!r}")
