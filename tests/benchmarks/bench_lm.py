"""Benchmark (not a test): HW1's reference Transformer against PyTorch's word-language-model LSTM at equal wall time.

    GM_DATA=... python -m tests.benchmarks.bench_lm [--set key=value ...]

1. Runs Part 3 of the solution notebook at its default size (``GM_SMOKE=0``): the n-gram baselines, then the
   Transformer training cell as it stands, which reports its training wall time (held-out evaluations included)
   and its sliding-window test perplexity. ``--set`` overrides entries of that cell's ``config`` (for exploring
   other settings; the benchmark proper runs without it).
2. Trains the baseline on the same split, vocabulary and machine for the same wall time: the recipe of PyTorch's
   ``examples/word_language_model`` (``main.py`` defaults with ``--tied``: a 2-layer LSTM, 200 units, tied
   200-d embedding, dropout 0.2, weights U(-0.1, 0.1), SGD at lr 20, gradient norm clipped at 0.25, bptt 35,
   batch 20, the lr divided by 4 whenever the held-out loss does not improve, held-out evaluation after every
   epoch and when the time is up, the best held-out weights kept). It is scored the example's way, carrying its
   state through the test stream cut into 10 rows.
3. Scores the Transformer again with disjoint windows (stride = context), to show what the sliding window buys.
4. Prints both test perplexities and their ratio (goal: Transformer / LSTM <= 1.0) and writes them as JSON.

The LSTM is written here from that recipe; nothing is copied from the example.
"""

import argparse
import ast
import json
import math
import os
import time

import matplotlib

matplotlib.use("Agg")  # the notebook's plots are drawn and discarded

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from utils.authoring import source_text  # noqa: E402
from utils.config import REPO_ROOT  # noqa: E402
from utils.data import batchify  # noqa: E402
from utils.metrics import perplexity  # noqa: E402

IMPORTS_CELL, FIRST_CELL, TRAINING_CELL = "config", "part-3-an-autoregressive", "if-smoke-config-dict"
CONFIG_LINE = "print(config)\n"


def run_solution_part3(overrides: dict) -> dict:
    """Execute the solution's imports and Part 3 up to and including its training cell; return the namespace."""
    os.environ["GM_SMOKE"] = "0"
    notebook = json.loads((REPO_ROOT / "solutions" / "hw1.ipynb").read_text())
    cells = notebook["cells"]
    first = next(i for i, c in enumerate(cells) if c["id"] == FIRST_CELL)
    last = next(i for i, c in enumerate(cells) if c["id"] == TRAINING_CELL)
    namespace: dict = {}
    exec(source_text(next(c for c in cells if c["id"] == IMPORTS_CELL)), namespace)
    for cell in cells[first : last + 1]:
        if cell["cell_type"] != "code" or cell.get("metadata", {}).get("grader", {}).get("kind") == "graded":
            continue  # graded cells hold the autograder's checks, not the homework's code
        source = source_text(cell)
        if cell["id"] == TRAINING_CELL and overrides:
            assert CONFIG_LINE in source, "the training cell no longer prints its config"
            source = source.replace(CONFIG_LINE, f"config.update({overrides!r})\n{CONFIG_LINE}", 1)
        exec(source, namespace)
    return namespace


class TiedLSTM(nn.Module):
    """The example's RNNModel with ``--tied``: ids (T, B) -> logits (T, B, V) and the state to carry on."""

    def __init__(self, vocab_size: int, size: int = 200, num_layers: int = 2, dropout: float = 0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, size)
        self.rnn = nn.LSTM(size, size, num_layers, dropout=dropout)
        self.decoder = nn.Linear(size, vocab_size)
        self.decoder.weight = self.encoder.weight  # tied
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, ids, state=None):
        output, state = self.rnn(self.drop(self.encoder(ids)), state)
        return self.decoder(self.drop(output)), state


def detach(state):
    return tuple(s.detach() for s in state)


@torch.no_grad()
def lstm_nll(model: TiedLSTM, ids: torch.Tensor, rows: int = 10, bptt: int = 35) -> tuple[float, int]:
    """Summed NLL (nats) and target count over ``ids`` (N,) cut into ``rows`` streams, the state carried through."""
    model.eval()
    device = next(model.parameters()).device
    streams = batchify(ids, rows).t().contiguous().to(device)  # (L, rows): time first, as in the example
    total, count, state = 0.0, 0, None
    for start in range(0, streams.size(0) - 1, bptt):
        x, y = streams[start : start + bptt], streams[start + 1 : start + 1 + bptt]
        x = x[: y.size(0)]
        logits, state = model(x, state)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        count += y.numel()
    model.train()
    return total, count


def train_lstm(vocab_size, fit_ids, dev_ids, seconds, device, batch_size=20, bptt=35, lr=20.0, clip=0.25, seed=1111):
    """Train for ``seconds`` of wall time (held-out evaluations included); return the best held-out model's stats."""
    torch.manual_seed(seed)
    model = TiedLSTM(vocab_size).to(device)
    streams = batchify(fit_ids, batch_size).t().contiguous().to(device)  # (L, B)
    best = dict(dev_ppl=math.inf, state=None, epoch=0.0)
    start, steps, epoch = time.perf_counter(), 0, 0

    def check_dev(progress):
        nonlocal lr
        dev_ppl = perplexity(*lstm_nll(model, dev_ids))
        if dev_ppl < best["dev_ppl"]:
            best.update(dev_ppl=dev_ppl, epoch=progress, state={k: v.clone() for k, v in model.state_dict().items()})
        else:
            lr /= 4  # the example's annealing: no improvement on held-out text
        print(f"  LSTM: epoch {progress:.2f}, {time.perf_counter() - start:6.1f} s, held-out perplexity {dev_ppl:.1f}")

    out_of_time = False
    while not out_of_time:
        state = None
        for i, position in enumerate(range(0, streams.size(0) - 1, bptt)):
            x, y = streams[position : position + bptt], streams[position + 1 : position + 1 + bptt]
            x = x[: y.size(0)]
            logits, state = model(x, None if state is None else detach(state))
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            model.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)  # plain SGD, as in the example
            steps += 1
            if time.perf_counter() - start >= seconds:
                out_of_time = True
                check_dev(epoch + (i + 1) * bptt / streams.size(0))
                break
        else:
            epoch += 1
            check_dev(float(epoch))
    train_seconds = time.perf_counter() - start
    model.load_state_dict(best["state"])
    return model, dict(steps=steps, seconds=train_seconds, dev_ppl=best["dev_ppl"], kept_epoch=best["epoch"])


def parse_overrides(pairs: list[str]) -> dict:
    return {key: ast.literal_eval(value) for key, value in (pair.split("=", 1) for pair in pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override the training config")
    parser.add_argument("--transformer-only", action="store_true", help="skip the LSTM baseline")
    parser.add_argument("--out", default="bench_lm.json")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)

    ns = run_solution_part3(overrides)
    transformer = dict(test_ppl=ns["test_ppl"], seconds=ns["train_seconds"], steps=ns["step"],
                       kept_step=ns["best"]["step"], dev_ppl=ns["best"]["dev_ppl"], config=ns["config"],
                       bigram_ppl=ns["BIGRAM_PPL"])  # fmt: skip
    print(
        f"Transformer: test perplexity {transformer['test_ppl']:.1f} after {transformer['seconds']:.0f} s "
        f"({transformer['steps']} steps, kept step {transformer['kept_step']})"
    )

    # The same trained model scored with disjoint windows, and with the notebook's sliding window.
    seq_len = ns["config"]["seq_len"]
    for stride in (seq_len, ns["config"]["eval_stride"]):
        transformer[f"test_ppl_stride_{stride}"] = perplexity(
            *ns["evaluate_nll"](ns["model"], ns["test_ids"], seq_len, stride)
        )
        print(
            f"Transformer, windows of {seq_len} every {stride} tokens: test perplexity "
            f"{transformer[f'test_ppl_stride_{stride}']:.1f}"
        )
    if args.transformer_only:
        return
    vocab_size, device = len(ns["vocab"]), ns["device"]
    model, lstm = train_lstm(vocab_size, ns["fit_ids"], ns["dev_ids"], transformer["seconds"], device)
    lstm["test_ppl"] = perplexity(*lstm_nll(model, ns["test_ids"]))
    print(
        f"LSTM baseline: test perplexity {lstm['test_ppl']:.1f} after {lstm['seconds']:.0f} s ({lstm['steps']} "
        f"steps, kept epoch {lstm['kept_epoch']:.2f})"
    )
    ratio = transformer["test_ppl"] / lstm["test_ppl"]
    print(
        f"ratio Transformer / LSTM: {ratio:.3f} (goal <= 1.0); device {device}, V = {vocab_size:,}, "
        f"trained on '{ns['TRAIN_SPLIT']}'"
    )
    result = dict(transformer=transformer, lstm=lstm, ratio=ratio, device=str(device), vocab_size=vocab_size,
                  train_split=ns["TRAIN_SPLIT"])  # fmt: skip
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, default=str)


if __name__ == "__main__":
    main()
