"Training internals: tokenization, checkpointing and the training loop."

# Loaded on first use, so that importing one submodule does not import (and cycle through) the others.
_exports = {"load_tokenizer": "tokenization", "SentencePieceTokenizerWrapper": "tokenization",
            "train_tokenizer": "tokenization", "CheckpointManager": "checkpointing", "TrainingLoop": "loop"}
__all__ = list(_exports)

def __getattr__(name):
    if name in _exports:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_exports[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
