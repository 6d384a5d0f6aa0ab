"""Scoring on a tiny random Llama: log-probabilities equal transformers' on the same ids, whatever the batching."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from eval_models import tiny_export  # noqa: E402

from gap_replay.eval.models import load_model  # noqa: E402
from gap_replay.eval.scoring import continuation_logprobs, next_token_logprobs  # noqa: E402

REQUESTS = [
    ("Question: Which drug lowers blood pressure?\nAnswer:", " amlodipine"),
    ("Question: Which drug lowers blood pressure?\nAnswer:", " insulin"),
    ("Question: Is anorectal endosonography valuable in dyschesia?\nAnswer:", " yes"),
    ("Q:", " The patient was treated with antibiotics and the fever resolved within three days."),
    ("The patient", " was"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_export(tmp_path_factory.mktemp("eval") / "tiny")


@pytest.fixture(scope="module")
def ours(folder):
    return load_model(str(folder), backend="gap-replay", device="cpu")


@pytest.fixture(scope="module")
def reference(folder):
    return transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).eval()


def token_requests(model):
    return [
        (model.tokenizer.encode(context), model.tokenizer.encode(continuation)) for context, continuation in REQUESTS
    ]


def reference_logprob(reference, ids: list[int], continuation: int) -> float:
    """Sum of log P(token | everything before it) over the last `continuation` ids, one unpadded sequence at a time."""
    with torch.no_grad():
        logits = reference(torch.tensor([ids])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[position - 1, ids[position]]) for position in range(len(ids) - continuation, len(ids)))


def test_continuation_scores_equal_transformers_log_probabilities(ours, reference):
    requests = token_requests(ours)
    scores = continuation_logprobs(ours, requests, batch_size=4)
    for (context, continuation), score in zip(requests, scores, strict=True):
        expected = reference_logprob(reference, [ours.bos_id, *context, *continuation], len(continuation))
        assert score == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("batch_size", [2, 3, 8])
def test_batched_and_unbatched_scores_agree(ours, batch_size):
    requests = token_requests(ours)
    one_at_a_time = continuation_logprobs(ours, requests, batch_size=1)
    assert continuation_logprobs(ours, requests, batch_size=batch_size) == pytest.approx(one_at_a_time, abs=1e-5)


def test_the_transformers_backend_scores_the_same_folder_alike(folder, ours):
    theirs = load_model(str(folder), backend="transformers", device="cpu")
    assert theirs.backend == "transformers" and theirs.sha256 == ours.sha256
    requests = token_requests(ours)
    expected = continuation_logprobs(ours, requests, batch_size=1)
    assert continuation_logprobs(theirs, requests, batch_size=3) == pytest.approx(expected, abs=1e-5)


def test_next_token_log_probabilities_are_the_last_positions(ours, reference):
    contexts = [ours.tokenizer.encode(context) for context, _ in REQUESTS]
    letters = [ours.tokenizer.encode(letter)[0] for letter in (" A", " B", " C")]
    rows = next_token_logprobs(ours, contexts, letters, batch_size=3)
    for context, row in zip(contexts, rows, strict=True):
        with torch.no_grad():
            logits = reference(torch.tensor([[ours.bos_id, *context]])).logits[0, -1].double()
        expected = torch.log_softmax(logits, dim=-1)[letters]
        assert row == pytest.approx(expected.tolist(), abs=1e-5)


def test_a_sequence_longer_than_the_model_keeps_its_last_tokens(tmp_path, reference):
    short = load_model(str(tiny_export(tmp_path / "short", max_length=16)), device="cpu")
    context, continuation = short.tokenizer.encode(REQUESTS[3][0] * 8), short.tokenizer.encode(" yes")
    assert len(context) + len(continuation) + 1 > 16
    [score] = continuation_logprobs(short, [(context, continuation)], batch_size=1)
    kept = [short.bos_id, *context, *continuation][-16:]
    assert score == pytest.approx(reference_logprob(reference, kept, len(continuation)), abs=1e-5)


def test_a_continuation_as_long_as_the_model_is_refused(tmp_path):
    short = load_model(str(tiny_export(tmp_path / "short", max_length=4)), device="cpu")
    with pytest.raises(ValueError, match="a continuation of 4 tokens does not fit the model's 4"):
        continuation_logprobs(short, [([1], [5, 6, 7, 8])], batch_size=1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_scores_run_in_bf16_and_stay_close_to_the_cpus(folder, ours):
    gpu = load_model(str(folder), backend="gap-replay", device="cuda")
    assert gpu.dtype == torch.bfloat16
    requests = token_requests(ours)
    expected = continuation_logprobs(ours, requests, batch_size=4)
    scores = continuation_logprobs(gpu, requests, batch_size=4)
    for score, reference_score in zip(scores, expected, strict=True):
        assert score == pytest.approx(reference_score, rel=0.05)
