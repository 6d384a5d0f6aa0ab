"""Beam pipelines as the stages run them: options from the command line (with a default runner that works offline),
and a run that counts only when it finished."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from gap_replay.stages import DryRun, PipelineNotRun

DEFAULT_RUNNER = "FnApiRunner"


def pipeline_options(beam_args: Sequence[str] = ()) -> PipelineOptions:
    """Options for one stage; without `--runner`, the in-process FnApiRunner (the DirectRunner tries a download)."""
    args = list(beam_args)
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in args):
        args.append(f"--runner={DEFAULT_RUNNER}")
    return PipelineOptions(args)


def run_to_completion(pipeline: beam.Pipeline, stage: str) -> Any:
    """Run a pipeline and wait for it; its result, or PipelineNotRun when it did not run to the end."""
    result = pipeline.run()
    state = result.wait_until_finish()
    if state == "DONE":
        return result
    if pipeline.options.view_as(TestOptions).dry_run:
        raise DryRun(f"{stage}: dry run: the pipeline was translated, not run; nothing was written or published")
    raise PipelineNotRun(f"{stage} pipeline ended in state {state or 'unknown'}; nothing was published")
