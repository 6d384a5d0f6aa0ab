"""The training loop: data, model, optimizer and checkpoints put together, one optimizer step at a time.

Every rank runs this same code. A step takes `global_batch_size` samples: each rank reads its own micro batches
and accumulates gradients over `global_batch_size / (micro_batch_size * world_size)` of them; FSDP averages the
gradients over ranks, so the update is that of the mean loss over the global batch whatever the world size.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
from torch.distributed.tensor import DTensor

from gap_replay.train.checkpoint import (
    discard_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    step_folder,
)
from gap_replay.train.config import Config, ConfigError
from gap_replay.train.data import Blend, Corpus, DataError, GPTSamples, TrainLoader, open_split, validation_batches
from gap_replay.train.hf import (
    DTYPES,
    check_state_dict,
    manifest_tokenizer,
    read_hf_args,
    read_hf_state_dict,
    save_hf,
)
from gap_replay.train.metrics import MetricsLog, flops_per_token, peak_flops, peak_memory_gb, perplexity, throughput
from gap_replay.train.model import Llama, document_ids
from gap_replay.train.optim import build_optimizer, build_scheduler
from gap_replay.train.parallel import World, autocast, init_world, parallelize

BEST_EXPORT = "hf-best"


@dataclass
class RunResult:
    """What a run reports: where it wrote, the last step, the validation loss before and after, and the trained
    step with the lowest validation loss (a resumed run counts the validations logged before it)."""

    output_dir: Path
    step: int
    valid_loss_before: float | None
    valid_loss_after: float
    best_step: int
    best_loss: float


def logged_best(metrics: Path) -> tuple[float, int] | None:
    """(loss, step) of the lowest validation loss after step 0 in a metrics log, None without one."""
    if not metrics.is_file():
        return None
    records = (json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip())
    losses = [(record["loss"], record["step"]) for record in records if record["kind"] == "valid" and record["step"]]
    return min(losses) if losses else None


def train(config: Config) -> RunResult:
    """Run (or resume) the training a config describes; under torchrun every rank calls this."""
    world = init_world(config.train.device)
    try:
        return Trainer(config, world).run()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def causal_lm_loss(model: nn.Module, batch: torch.Tensor, eos_id: int | None, reduction: str = "mean") -> torch.Tensor:
    """Next-token cross entropy of (batch, seq_len + 1) tokens; with `eos_id`, documents are masked apart."""
    inputs, targets = batch[:, :-1], batch[:, 1:]
    documents = document_ids(inputs, eos_id) if eos_id is not None else None
    logits = model(inputs, documents)
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction=reduction)


class Trainer:
    """One run's state: data, model, optimizer, schedule, metrics; `run` trains to `train.steps`."""

    clock = staticmethod(time.perf_counter)  # the throughput and data-wait clock; tests put a scripted one here

    def __init__(self, config: Config, world: World) -> None:
        self.config = config
        self.world = world
        train, data = config.train, config.data
        self.micro_steps, remainder = divmod(train.global_batch_size, train.micro_batch_size * world.world_size)
        if remainder or self.micro_steps == 0:
            raise ConfigError(
                f"train.global_batch_size {train.global_batch_size} is not a multiple of micro_batch_size "
                f"{train.micro_batch_size} x world size {world.world_size}"
            )
        corpora = [open_split(manifest.path, "train") for manifest in data.manifests]
        _check_same_tokenizer(corpora)
        self.eos_id = corpora[0].eos_id
        # Checked now, not at the end of the run: the export ships the tokenizer the shards were made with.
        self.export_tokenizer = manifest_tokenizer(data.manifests[0].path, data.seq_len)
        streams = [GPTSamples(corpus, data.seq_len, data.seed) for corpus in corpora]
        blend = Blend(streams, [manifest.weight for manifest in data.manifests])
        self.loader = TrainLoader(blend, train.micro_batch_size, world.rank, world.world_size, data.seed)
        self.valid = {
            manifest.path: validation_batches(
                GPTSamples(open_split(manifest.path, "valid"), data.seq_len, data.seed),
                config.eval.samples,
                train.micro_batch_size,
                world.rank,
                world.world_size,
            )
            for manifest in data.manifests
        }

        self.args = read_hf_args(config.init_from) if config.init_from else config.model_args(corpora[0].vocab_size)
        if self.args.vocab_size < corpora[0].vocab_size:
            raise DataError(
                f"{corpora[0].manifest}: tokenizer vocabulary {corpora[0].vocab_size} exceeds the model's "
                f"vocab_size {self.args.vocab_size}"
            )
        self.model = self._build_model()
        self.optimizer = build_optimizer(self.model, config.optim, world.device)
        self.scheduler = build_scheduler(self.optimizer, config.optim, train.steps)
        self.checkpoints = config.output_dir / "checkpoints"
        self.step = 0
        if not config.checkpoint.resume and world.is_main:
            discard_checkpoints(self.checkpoints)
        resume_from = latest_checkpoint(self.checkpoints) if config.checkpoint.resume else None
        if resume_from is not None:
            self.step = load_checkpoint(resume_from, self.model, self.optimizer, self.scheduler, self.loader)
        # The lowest validation loss of a trained step: this run's, or its log's when it resumes.
        self.best = logged_best(config.output_dir / "metrics.jsonl") if self.step else None
        self.mask_eos = self.eos_id if train.document_mask else None
        self.autocast = autocast(world, train.precision)
        self.data_seconds = 0.0  # time spent waiting for batches since the last log line

    def _build_model(self) -> Llama:
        """Build on the meta device, wrap for parallelism, materialise on the device, then load or initialise."""
        config, world = self.config, self.world
        with torch.device("meta"):
            model = Llama(self.args)
        parallelize(model, config.parallel, world, config.train.precision)
        model.to_empty(device=world.device)
        if config.init_from:
            state = {}
            if world.is_main:  # rank 0 reads the files; FSDP broadcasts each tensor's shards from it
                state = check_state_dict(read_hf_state_dict(config.init_from), model, config.init_from)
            options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=world.world_size > 1)
            set_model_state_dict(model, state, options=options)
        else:
            torch.manual_seed(config.train.seed)
            model.init_weights()
        return model.train()

    def run(self) -> RunResult:
        """Validate, train to the last step (logging, validating, checkpointing), validate, save, export."""
        config, out = self.config, self.config.output_dir
        if self.world.is_main:  # the resolved config next to its results, overrides and defaults included
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
        self.log = MetricsLog(
            out / "metrics.jsonl", self.world.is_main, config.train.steps, self.step, config.log.progress
        )
        try:
            before = self.validate() if config.eval.at_start else None
            self.train_steps()
            after = self.validate()
        finally:
            self.log.close()
        if latest_checkpoint(self.checkpoints) != step_folder(self.checkpoints, self.step):
            self.save()
        if config.checkpoint.export_hf and config.checkpoint.export in ("last", "both"):
            self.export(out / "hf")
        best_loss, best_step = self.best or (after, self.step)
        return RunResult(out, self.step, before, after, best_step, best_loss)

    def export(self, folder: Path) -> None:
        """The model as a Hugging Face folder, with the shards' tokenizer (every rank takes part)."""
        dtype = DTYPES[self.config.checkpoint.export_dtype]
        save_hf(self.model, folder, dtype, eos_token_id=self.eos_id, tokenizer=self.export_tokenizer)

    def train_steps(self) -> None:
        """Optimizer steps up to train.steps, with metrics, validation and checkpoints on their schedules."""
        config = self.config
        tokens_per_step = config.train.global_batch_size * config.data.seq_len
        flops_token = flops_per_token(self.args, config.data.seq_len)
        peak = config.log.peak_flops or peak_flops(self.world.device)
        window_start, window_steps = self.clock(), 0
        while self.step < config.train.steps:
            loss, lr, grad_norm = self.train_step()
            window_steps += 1
            if self.step % config.log.every_steps == 0 or self.step == config.train.steps:
                # Reading the values waits for the device, so the clock below covers the work, not its queueing.
                loss_value = _mean_over_ranks(loss, self.world)
                norm_value = float(grad_norm.full_tensor() if isinstance(grad_norm, DTensor) else grad_norm)
                seconds = self.clock() - window_start
                record = {
                    "kind": "train",
                    "step": self.step,
                    "loss": loss_value,
                    "lr": lr,
                    "grad_norm": norm_value,
                    "tokens": self.step * tokens_per_step,
                    **throughput(window_steps * tokens_per_step, seconds, self.world.world_size, flops_token, peak),
                    "peak_memory_gb": peak_memory_gb(self.world.device),
                    "data_wait": self.data_seconds / seconds,
                }
                self.log.write(record)
                window_start, window_steps, self.data_seconds = self.clock(), 0, 0.0
            self.log.advance()
            if self.step == config.train.steps:
                break
            if config.eval.every_steps and self.step % config.eval.every_steps == 0:
                self.validate()
                window_start = self.clock()  # keep validation out of the throughput figures
            if config.checkpoint.every_steps and self.step % config.checkpoint.every_steps == 0:
                self.save()
                window_start = self.clock()

    def train_step(self) -> tuple[torch.Tensor, float, torch.Tensor]:
        """One optimizer step over the global batch; returns this rank's loss, the lr used and the grad norm."""
        model, world = self.model, self.world
        loss_sum = torch.zeros((), device=world.device)
        for micro in range(self.micro_steps):
            started = self.clock()
            batch = self.loader.next_batch().to(world.device, non_blocking=True)
            self.data_seconds += self.clock() - started
            if world.world_size > 1:  # reduce-scatter the gradients once, after the last micro batch
                model.set_requires_gradient_sync(micro == self.micro_steps - 1)
            with self.autocast:
                loss = causal_lm_loss(model, batch, self.mask_eos) / self.micro_steps
            loss.backward()
            loss_sum += loss.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.optim.clip_grad_norm or math.inf)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        return loss_sum, lr, grad_norm

    @torch.no_grad()
    def validate(self) -> float:
        """Token-mean loss over every manifest's valid samples (all ranks), logged with perplexities."""
        self.model.eval()
        totals = torch.zeros(len(self.valid), 2, dtype=torch.float64, device=self.world.device)
        for i, batches in enumerate(self.valid.values()):
            for batch in batches:
                with self.autocast:
                    loss = causal_lm_loss(self.model, batch.to(self.world.device), self.mask_eos, reduction="sum")
                totals[i, 0] += loss.double()
                totals[i, 1] += batch.shape[0] * (batch.shape[1] - 1)
        if dist.is_initialized():
            dist.all_reduce(totals)
        self.model.train()
        losses = (totals[:, 0] / totals[:, 1]).tolist()
        loss = float(totals[:, 0].sum() / totals[:, 1].sum())
        record = {"kind": "valid", "step": self.step, "loss": loss, "perplexity": perplexity(loss)}
        if len(losses) > 1:
            record["manifests"] = {
                path: {"loss": value, "perplexity": perplexity(value)}
                for path, value in zip(self.valid, losses, strict=True)
            }
        self.log.write(record)
        if self.step and (self.best is None or loss < self.best[0]):
            self.best = (loss, self.step)
            checkpoint = self.config.checkpoint
            if checkpoint.export_hf and checkpoint.export in ("best", "both"):
                self.export(self.config.output_dir / BEST_EXPORT)
        return loss

    def save(self) -> None:
        """A checkpoint of the current step (every rank takes part)."""
        save_checkpoint(
            self.checkpoints,
            self.step,
            self.model,
            self.optimizer,
            self.scheduler,
            self.loader,
            self.config.checkpoint.keep_last,
        )


def _mean_over_ranks(value: torch.Tensor, world: World) -> float:
    if world.world_size > 1:
        value = value.clone()
        dist.all_reduce(value)  # a sum: gloo has no average
        value /= world.world_size
    return float(value)


def _check_same_tokenizer(corpora: list[Corpus]) -> None:
    """Blended manifests must share one tokenizer: same vocabulary, EOS and (when recorded) file hash."""
    first = corpora[0]
    for corpus in corpora[1:]:
        facts = (corpus.vocab_size, corpus.eos_id, corpus.tokenizer_sha256)
        if facts != (first.vocab_size, first.eos_id, first.tokenizer_sha256):
            raise DataError(f"{corpus.manifest}: its tokenizer differs from that of {first.manifest}; cannot blend")
