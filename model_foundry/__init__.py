__version__ = "0.1.0"

import sys as _sys

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


# Model Foundry's own architectures (the recurrent models) must be known to `transformers`' Auto classes once
# `model_foundry` is imported, so that `AutoModelForCausalLM.from_pretrained` loads their checkpoints. Importing
# transformers here would make every `import model_foundry` (the command line's too) seconds slower, so the classes
# are registered as soon as transformers itself is imported, or now if it already is.
class _RegisterAfterTransformers:
    "A finder that lets `transformers` import as usual, then registers Model Foundry's architectures with it."
    def find_spec(self, name, path=None, target=None):
        if name != "transformers": return None
        import importlib.machinery
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None: return spec
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            _sys.meta_path[:] = [f for f in _sys.meta_path if not isinstance(f, _RegisterAfterTransformers)]
            import model_foundry.recurrent  # noqa: F401  (registers on import)
        spec.loader.exec_module = exec_module
        return spec


if "transformers" in _sys.modules:
    import model_foundry.recurrent  # noqa: F401
elif not any(isinstance(f, _RegisterAfterTransformers) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _RegisterAfterTransformers())
