"""The same curate and build run unchanged on Beam's portable runner (the Job API that Spark and Flink speak)."""

import json
import shutil

import pytest

from gap_replay.pipelines.build import run_build
from gap_replay.pipelines.curate import run_curate
from gap_replay.pipelines.fetch import run_fetch
from gap_replay.recipe import load_recipe

pytestmark = pytest.mark.slow

PORTABLE = ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]


def test_portable_runner_gives_the_in_process_results(tmp_path):
    recipe, sha256 = load_recipe(None)
    local = recipe.model_copy(update={"output": str(tmp_path / "local")})
    portable = recipe.model_copy(update={"output": str(tmp_path / "portable")})
    run_fetch(local)
    shutil.copytree(tmp_path / "local", tmp_path / "portable")  # the raw files and fetch's completion record

    expected = run_curate(local, sha256)
    assert run_curate(portable, sha256, PORTABLE)["sources"] == expected["sources"]

    first, second = run_build(local, sha256), run_build(portable, sha256, PORTABLE)
    assert [shard["bin"]["sha256"] for shard in first["shards"]] == [
        shard["bin"]["sha256"] for shard in second["shards"]
    ]
    assert json.dumps(first["totals"]) == json.dumps(second["totals"])
