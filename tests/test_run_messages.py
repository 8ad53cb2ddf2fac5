"""What a run shows while it trains: wall-clock throughput and a time left that knows the checkpoint schedule, what
`use_amp` chose, and, on Ctrl-C, the step the same command continues from."""
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest
from conftest import ENV, run_trainer, tiny_config_dict, trainer_command, write_config

pytestmark = pytest.mark.integration


def config(ws: Path, **training) -> Path:
    return write_config(ws, tiny_config_dict(ws, **training))


def on_a_terminal(cmd: list, cwd: Path, timeout: float = 300) -> str:
    "Run `cmd` with its stdout and stderr on a pseudo-terminal (as a user at a console sees it); what it wrote."
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # 50 rows of 200 columns
    p = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave)
    os.close(slave)
    out, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.5)[0]:
            try: chunk = os.read(master, 1 << 16)
            except OSError: break  # the process closed the terminal
            if not chunk: break
            out += chunk
        elif p.poll() is not None: break
    p.wait(timeout=30)
    os.close(master)
    assert p.returncode == 0, out.decode(errors="replace")[-3000:]
    return out.decode(errors="replace")


def test_progress_bar_shows_wall_clock_throughput_and_time_left(temp_workspace, tiny_corpus):
    "With a checkpoint every other step, saving takes most of the time: the bar's tokens/s must say so."
    cfg = config(temp_workspace, train_steps=60, checkpoint_schedule=list(range(0, 61, 2)), keep_resume_states=None)
    shown = on_a_terminal(trainer_command(cfg), temp_workspace)
    assert "tok_s=" not in shown, shown[-2000:]
    rates = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) tok/s", shown)]
    assert rates and re.search(r"\d+:\d\d left", shown), shown[-2000:]
    rows = [json.loads(line) for line in (temp_workspace / "run" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["step"] > 0]
    wall = (rows[-1]["tokens_seen"] - rows[0]["tokens_seen"]) / (rows[-1]["time"] - rows[0]["time"])
    state = json.loads((temp_workspace / "run" / "checkpoint-60" / "trainer_state.json").read_text())["state"]
    compute = state["tokens_seen"] / state["train_seconds"]  # the steps alone, without saving
    assert rates[-1] < 0.8 * compute, (rates[-1], compute)  # not the compute-only rate
    assert 0.6 < rates[-1] / wall < 1.6, (rates[-1], wall)  # the rate a clock on the wall sees


def test_without_a_bar_each_checkpoint_line_says_the_time_left(temp_workspace, tiny_corpus):
    r = run_trainer(config(temp_workspace), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if "saved" in line and line.split()[-1] == "left"]
    assert [re.search(r"(checkpoint-\d+) saved", line)[1] for line in lines] == ["checkpoint-5", "checkpoint-10",
                                                                                   "checkpoint-20"], r.stderr


def test_use_amp_on_a_cpu_says_once_that_it_trains_in_fp32(temp_workspace, tiny_corpus):
    d = tiny_config_dict(temp_workspace)
    d["training"]["use_amp"] = True
    r = run_trainer(write_config(temp_workspace, d), cwd=temp_workspace)
    assert r.returncode == 0, r.stderr
    said = "training.use_amp: mixed precision needs a CUDA device; on cpu this run trains in fp32"
    assert r.stderr.count(said) == 1, r.stderr


def test_ctrl_c_names_the_step_it_stopped_at_and_the_checkpoint_the_same_command_continues_from(temp_workspace,
                                                                                                 tiny_corpus):
    "Ctrl-C finishes the step in progress and saves it (see tests/test_signals.py): nothing is trained again."
    cfg = config(temp_workspace, train_steps=2000, checkpoint_schedule=[0, 5, 10, 20])
    p = subprocess.Popen(trainer_command(cfg), cwd=temp_workspace, env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (temp_workspace / "run" / "checkpoint-20").is_dir() and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # some steps after the last checkpoint
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    m = re.search(r"stopped by SIGINT at step ([\d,]+) of 2,000: checkpoint-([\d]+) \(off the schedule: not on the "
                  r"learning curves, and removed at the next scheduled save\) holds its resume state; run the same "
                  r"command again to continue from it", err)
    assert m, err
    assert err.count("stopped by SIGINT") == 1 and "Traceback" not in err, err
    stopped, saved = (int(g.replace(",", "")) for g in m.groups())
    assert stopped == saved > 20, err
    from model_foundry.config import load_config
    from model_foundry.training.checkpointing import CheckpointManager
    newest = CheckpointManager(load_config(cfg), temp_workspace).latest(resumable_only=True)
    assert newest.name == f"checkpoint-{saved}", newest  # what a run of the same command continues from
