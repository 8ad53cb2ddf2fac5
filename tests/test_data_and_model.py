"""Token sequences become fixed-length chunks exactly; models build and step on any device."""
import numpy as np
import pytest
import torch

from model_foundry.data import DataError, TokenChunks, make_loader
from model_foundry.shards import tokenize_files

pytestmark = pytest.mark.unit


def write_corpus(tmp_path, sequences):
    "Each token-id sequence as one line of words (w<id>), the way a corpus file holds documents."
    path = tmp_path / "corpus.train"
    path.write_text("".join(" ".join(f"w{i}" for i in seq) + "\n" for seq in sequences))
    return path


def chunks_of(tmp_path, sequences, tokenizer, seq_len=32):
    corpus = write_corpus(tmp_path, sequences)
    tokenizer.encode_batch(corpus.read_text().splitlines())  # the word-level mock learns its vocabulary as it reads
    tokenize_files([corpus], tokenizer, tmp_path / "train.bin", seq_len)
    return TokenChunks(tmp_path / "train.bin")


@pytest.mark.parametrize("name", ["tiny_dataset", "fixed_length_dataset"])
def test_documents_become_a_stream_cut_into_chunks(tmp_path, mock_tokenizer, request, name):
    sequences = request.getfixturevalue(name)
    chunks = chunks_of(tmp_path, sequences, mock_tokenizer)
    stream = [t for seq in sequences for t in [mock_tokenizer.bos_token_id, *mock_tokenizer.encode(
        " ".join(f"w{i}" for i in seq), add_special_tokens=False), mock_tokenizer.eos_token_id]]
    assert len(chunks) == len(stream) // 32  # the remainder shorter than a chunk is left out
    got = torch.cat([chunks[i] for i in range(len(chunks))]).tolist()
    assert got == stream[:len(chunks) * 32]
    # every word of the text is counted once, in the chunk holding it
    assert chunks.words_per_chunk.sum() == sum(1 for t in got if t > 3)


@pytest.mark.parametrize("name", ["empty_dataset", "single_sequence_dataset"])
def test_text_shorter_than_one_sequence_is_refused(tmp_path, mock_tokenizer, request, name):
    with pytest.raises(DataError, match="tokens, but one training sequence needs 32"):
        chunks_of(tmp_path, request.getfixturevalue(name), mock_tokenizer)


def test_batches_move_to_the_device_and_train(tmp_path, mock_tokenizer, fixed_length_dataset, tiny_model, device,
                                              deterministic_seed):
    chunks = chunks_of(tmp_path, fixed_length_dataset, mock_tokenizer)
    batch = next(iter(make_loader(chunks, 4, seed=deterministic_seed, epoch=0))).to(device)
    model = tiny_model.to(device).train()
    loss = model(input_ids=batch, labels=batch).loss
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_steps_on_a_gpu(skip_if_no_cuda, tiny_config, precision):
    from model_foundry.model import autocast_context, create_model
    from model_foundry.training.loop import create_optimizer
    device = torch.device("cuda")
    model = create_model(tiny_config).to(device)
    opt = create_optimizer(model, tiny_config.training)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    ids = torch.randint(4, 1000, (2, 32), device=device)
    losses = []
    for _ in range(5):
        with autocast_context(precision, device): loss = model(input_ids=ids, labels=ids).loss
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler: scaler.step(opt); scaler.update()
        else: opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_checkpoints_the_original_way(tiny_config, temp_workspace, tiny_model, mock_tokenizer):
    "CheckpointManager as the original Model Foundry's code calls it: config, base dir and commit; save, load back."
    from model_foundry.training import CheckpointManager
    manager = CheckpointManager(tiny_config, str(temp_workspace), "abc123")
    assert manager.output_dir == temp_workspace / "test" / "output" and manager.git_commit_hash == "abc123"
    optimizer = torch.optim.AdamW(tiny_model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, total_iters=10)
    path = manager.save_checkpoint(model=tiny_model, tokenizer=mock_tokenizer, optimizer=optimizer,
                                   lr_scheduler=scheduler, global_step=100, epoch=1)
    assert path == manager.output_dir / "checkpoint-100" and (path / "vocab.json").is_file()
    state = torch.load(path / "training_state.pt", weights_only=True)
    assert {"optimizer", "lr_scheduler", "random_state", "numpy_random_state", "torch_random_state",
            "torch_cuda_random_state", "git_commit_hash"} <= set(state)
    assert manager.save_checkpoint(tiny_model, mock_tokenizer, optimizer, scheduler, 50, 0).name == "checkpoint-50"
    assert manager.load_checkpoint(lambda: tiny_model, torch.device("cpu"), optimizer, scheduler) == (None, None, 0, 0)
    tiny_config.training.resume_from_checkpoint = True
    model, _, step, epoch = manager.load_checkpoint(lambda: type(tiny_model)(tiny_model.config), torch.device("cpu"),
                                                    optimizer, scheduler)
    assert (step, epoch) == (100, 1)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), tiny_model.state_dict().values()))
    tiny_config.training.checkpoint_schedule = [10, 20]
    assert manager.get_checkpoint_schedule() == {10, 20}
