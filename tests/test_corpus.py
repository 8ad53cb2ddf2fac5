"""Corpus to tokens as a user meets it: the tutorial's manipulation pipeline, caching by content, bad input, a
tokenizer given instead of trained, and the tokenizer a checkpoint carries."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_cli, run_trainer, tiny_config_dict, write_config

pytestmark = pytest.mark.integration


def test_tutorial_ablation_config_reports_what_each_step_changed(tmp_path):
    "configs/ablation_no_determiners.yaml: two manipulation steps whose effect shows in the counts prepare reports."
    from model_foundry.synthetic import LEXICON, write_corpus
    (tmp_path / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "ablation_no_determiners.yaml", tmp_path / "configs")
    write_corpus(tmp_path / "data" / "synthetic", n_train=3000, n_dev=50, n_test=300, n_pairs=10, seed=0)
    r = run_cli("prepare", "configs/ablation_no_determiners.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    reports = {}
    for line in r.stderr.splitlines():  # "... dataset_manipulation[i] (type): L lines / W words -> L' lines / W' words"
        if "dataset_manipulation[" in line:
            i = int(line.split("dataset_manipulation[")[1][0])
            nums = [int(x.replace(",", "")) for x in line.split(":", 3)[-1].split() if x.replace(",", "").isdigit()]
            reports[i] = nums
    (l0, w0, l0o, w0o), (l1, w1, l1o, _) = reports[0], reports[1]
    assert l0 == l0o and w0o < w0  # the determiners went, every line stayed
    assert (l1, w1) == (l0o, w0o) and l1o < l1  # the second step reads the first's output and drops short lines
    ablated = (tmp_path / "data" / "ablations" / "no_determiners_3plus" / "synthetic.train").read_text().split()
    determiners = set(LEXICON["determiner"]["sg"]) | set(LEXICON["determiner"]["pl"])
    assert not determiners & set(ablated)
    original = (tmp_path / "data" / "synthetic" / "synthetic.train").read_text().split()
    assert determiners & set(original)
    # the held-out split is the unablated test text, and the training split the ablated text
    meta = json.loads(next((tmp_path / "data" / "tokenized").glob("*/meta.json")).read_text())
    assert meta["splits"]["test"]["files"][0]["path"].endswith("data/synthetic/synthetic.test")
    assert meta["splits"]["train"]["words"] == len(ablated)
    # a second prepare does nothing and says so
    r = run_cli("prepare", "configs/ablation_no_determiners.yaml", cwd=tmp_path)
    assert r.returncode == 0 and "nothing to do" in r.stderr and r.stderr.count("up to date") == 2, r.stderr


def test_changing_one_file_retokenizes_only_that_file(temp_workspace, tiny_corpus):
    "Per-file caching: two files, one edited; the other's tokens are reused, and the result equals a fresh prepare."
    corpus = temp_workspace / "corpus"
    lines = (corpus / "synthetic.train").read_text().splitlines()
    (corpus / "synthetic.train").write_text("\n".join(lines[:700]) + "\n")
    (corpus / "more.train").write_text("\n".join(lines[700:]) + "\n")
    cfg = write_config(temp_workspace, tiny_config_dict(temp_workspace))
    r = run_cli("prepare", str(cfg), cwd=temp_workspace)
    assert r.returncode == 0 and "tokenized 3 file(s), reused the tokens of 0" in r.stderr, r.stderr  # and .test
    with open(corpus / "more.train", "a") as f: f.write("the dog sleeps .\n")
    r = run_cli("prepare", str(cfg), cwd=temp_workspace)
    # the tokenizer trains on the training text, so it changes too: every file is tokenized again with it
    assert r.returncode == 0 and "tokenized 3 file(s)" in r.stderr, r.stderr
    # with the tokenizer fixed (given as a folder), only the edited file is tokenized again
    d = tiny_config_dict(temp_workspace)
    d["tokenizer"] = {"output_dir": str(temp_workspace / "given_tok"), "from_pretrained": str(temp_workspace / "tokenizer")}
    cfg = write_config(temp_workspace, d)
    assert run_cli("prepare", str(cfg), cwd=temp_workspace).returncode == 0
    with open(corpus / "more.train", "a") as f: f.write("a cat runs .\n")
    r = run_cli("prepare", str(cfg), cwd=temp_workspace)
    assert r.returncode == 0 and "tokenized 1 file(s), reused the tokens of 2 unchanged file(s)" in r.stderr, r.stderr
    cached = (Path(r.stdout.split(" in ")[1].split(";")[0]) / "train.bin").read_bytes()
    shutil.rmtree(temp_workspace / "data" / "tokenized")  # from scratch, the same tokens
    d["data"]["tokenized_dir"] = str(temp_workspace / "fresh")
    r = run_cli("prepare", str(write_config(temp_workspace, d)), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    fresh = next((temp_workspace / "fresh").glob("*/train.bin"))
    assert fresh.read_bytes() == cached


BAD_CORPORA = {
    "empty corpus": (lambda c: (c / "synthetic.train").write_text("\n\n  \n"), "has no text"),
    "binary file": (lambda c: (c / "image.train").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
                    "image.train is not text: it has a NUL byte"),
    "vocab too big": (None, "tokenizer.vocab_size (5000) is larger than this corpus supports"),
    "missing path": (lambda c: shutil.rmtree(c), "does not exist"),
    "file instead of a folder of text": (lambda c: (shutil.rmtree(c), c.write_text("")), "has no text"),
}


@pytest.mark.parametrize("case", list(BAD_CORPORA))
def test_bad_corpus_is_one_clear_message(temp_workspace, tiny_corpus, case):
    mutate, expected = BAD_CORPORA[case]
    corpus = temp_workspace / "corpus"
    d = tiny_config_dict(temp_workspace)
    if mutate: mutate(corpus)
    else: d["tokenizer"]["vocab_size"] = 5000
    r = run_cli("prepare", str(write_config(temp_workspace, d)), cwd=temp_workspace)
    assert r.returncode == 2, r.stderr
    errors = [l for l in r.stderr.splitlines() if l.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], r.stderr
    assert "Traceback" not in r.stderr


def test_text_that_is_not_utf8_is_repaired_and_counted(temp_workspace, tiny_corpus):
    corpus = temp_workspace / "corpus"
    with open(corpus / "synthetic.train", "ab") as f: f.write("the caf\xe9 sleeps .\n".encode("latin-1") * 3)
    r = run_cli("prepare", str(write_config(temp_workspace, tiny_config_dict(temp_workspace))), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    assert "the train split: 3 line(s) of the text were not UTF-8; their bad bytes were replaced with U+FFFD" in r.stderr
    meta = json.loads(next((temp_workspace / "data" / "tokenized").glob("*/meta.json")).read_text())
    assert meta["splits"]["train"]["lines_replaced"] == 3


def big_vocab_tokenizer(folder: Path, words: list, size: int = 70_000):
    "A Hugging Face word-level tokenizer with `size` entries (more than uint16 holds), GPT-2 style: one <|endoftext|>."
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    vocab = {f"<filler{i}>": i for i in range(size - len(words) - 2)}
    for w in ["<unk>", *words, "<|endoftext|>"]: vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                 unk_token="<unk>")
    hf.save_pretrained(folder)
    return hf


def test_a_given_tokenizer_with_a_large_vocabulary_trains_and_checkpoints(temp_workspace, tiny_corpus):
    "tokenizer.from_pretrained: no training; uint32 token ids; the model's special ids are the tokenizer's."
    from transformers import AutoModelForCausalLM, AutoTokenizer
    text = (temp_workspace / "corpus" / "synthetic.train").read_text()
    words = sorted(set(text.split()))
    hf = big_vocab_tokenizer(temp_workspace / "gpt2_like", words)
    d = tiny_config_dict(temp_workspace, train_steps=2, warmup_steps=1, checkpoint_schedule=[0, 2])
    d["tokenizer"] = {"output_dir": str(temp_workspace / "tok"), "from_pretrained": str(temp_workspace / "gpt2_like")}
    d["model"].update(hidden_size=32, embedding_size=32, intermediate_hidden_size=64)
    cfg = write_config(temp_workspace, d)
    r = run_cli("schedule", cfg, "--sequences", "1000", cwd=temp_workspace)
    assert r.returncode == 0 and "checkpoints over 2 steps" in r.stdout, r.stderr  # the vocabulary is the tokenizer's
    r = run_trainer(cfg, cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    assert "tokenizer copied from" in r.stderr and "70,000 pieces" in r.stderr
    meta = json.loads(next((temp_workspace / "data" / "tokenized").glob("*/meta.json")).read_text())
    assert meta["splits"]["train"]["dtype"] == "uint32" and meta["splits"]["train"]["word_counting"] == "per_line"
    ids = np.fromfile(next((temp_workspace / "data" / "tokenized").glob("*/train.bin")), dtype=np.uint32)
    first = text.splitlines()[0]
    eos = hf.eos_token_id
    assert ids[:len(first.split()) + 1].tolist() == hf(first, add_special_tokens=False)["input_ids"] + [eos]
    ckpt = temp_workspace / "run" / "checkpoint-2"
    tok, model = AutoTokenizer.from_pretrained(ckpt), AutoModelForCausalLM.from_pretrained(ckpt)
    assert len(tok) == 70_000 and model.config.vocab_size == 70_000
    assert (model.config.eos_token_id, model.generation_config.eos_token_id) == (eos, eos)
    assert tok(first)["input_ids"] == hf(first)["input_ids"]


def test_checkpoint_tokenizer_gives_the_wrappers_ids_on_the_whole_test_split(temp_workspace, tiny_corpus):
    "AutoTokenizer.from_pretrained(checkpoint) and the SentencePiece wrapper agree on every line of the test split."
    from transformers import AutoTokenizer

    from model_foundry.training import load_tokenizer
    d = tiny_config_dict(temp_workspace, train_steps=1, warmup_steps=0, checkpoint_schedule=[0, 1])
    r = run_trainer(write_config(temp_workspace, d), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    ours = load_tokenizer(temp_workspace / "tokenizer")
    hf = AutoTokenizer.from_pretrained(temp_workspace / "run" / "checkpoint-1")
    lines = [l for l in (temp_workspace / "corpus" / "synthetic.test").read_text().splitlines() if l.strip()]
    assert len(lines) == 200
    assert hf(lines, add_special_tokens=False)["input_ids"] == ours.encode_batch(lines)
    # and the ids stored for the test split are those ids, framed by <s> ... </s>
    meta = json.loads(next((temp_workspace / "data" / "tokenized").glob("*/meta.json")).read_text())
    stored = np.fromfile(next((temp_workspace / "data" / "tokenized").glob("*/test.bin")),
                         dtype=meta["splits"]["test"]["dtype"]).tolist()
    assert stored == [i for ids in hf(lines, add_special_tokens=False)["input_ids"]
                      for i in [ours.bos_token_id, *ids, ours.eos_token_id]]
