"""Beam pipelines as the stages run them: options from the command line (with a default runner that works offline),
and a run that counts only when it finished."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from gap_replay.stages import DryRun, PipelineNotRun

DEFAULT_RUNNER = "FnApiRunner"
# Input from which the multi-process runner is picked over the in-process one: below it, starting the workers and
# moving every element between processes cost what they save (30 MB of JSONL curate in 0.98x the wall time
# in-process, with 0.62x the CPU, on 2 cores).
MULTI_PROCESS_BYTES = 256 << 20
MULTI_PROCESS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]


def _given(args: Sequence[str], option: str) -> bool:
    return any(arg == option or arg.startswith(f"{option}=") for arg in args)


def pipeline_options(beam_args: Sequence[str] = (), input_bytes: int = 0) -> PipelineOptions:
    """Options for one stage. Without `--runner`: the FnApiRunner (the DirectRunner tries a download), in-process
    for an input under MULTI_PROCESS_BYTES and on every core above, unless `--direct_running_mode` or
    `--direct_num_workers` is given."""
    args = list(beam_args)
    if not _given(args, "--runner"):
        args.append(f"--runner={DEFAULT_RUNNER}")
        chosen = _given(args, "--direct_running_mode") or _given(args, "--direct_num_workers")
        if input_bytes >= MULTI_PROCESS_BYTES and not chosen:
            args += MULTI_PROCESS
    return PipelineOptions(args)


def stored_bytes(paths: Iterable[str]) -> int:
    """The size of files as stored, through Beam's FileSystems (local, gs://, s3://)."""
    return sum(metadata.size_in_bytes for path in paths for metadata in FileSystems.match([path])[0].metadata_list)


def run_to_completion(pipeline: beam.Pipeline, stage: str) -> Any:
    """Run a pipeline and wait for it; its result, or PipelineNotRun when it did not run to the end."""
    result = pipeline.run()
    state = result.wait_until_finish()
    if state == "DONE":
        return result
    if pipeline.options.view_as(TestOptions).dry_run:
        raise DryRun(f"{stage}: dry run: the pipeline was translated, not run; nothing was written or published")
    raise PipelineNotRun(f"{stage} pipeline ended in state {state or 'unknown'}; nothing was published")
