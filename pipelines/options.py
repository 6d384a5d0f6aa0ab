"""Beam pipeline options from the command line, with a default runner that works offline."""

from __future__ import annotations

from collections.abc import Sequence

from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_RUNNER = "FnApiRunner"


def pipeline_options(beam_args: Sequence[str] = ()) -> PipelineOptions:
    """Options for one stage; without `--runner`, the in-process FnApiRunner (the DirectRunner tries a download)."""
    args = list(beam_args)
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in args):
        args.append(f"--runner={DEFAULT_RUNNER}")
    return PipelineOptions(args)
