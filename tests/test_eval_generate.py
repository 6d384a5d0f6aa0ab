"""Generation with the key-value cache equals step-by-step decoding without it, padded or not, on both backends."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from eval_models import tiny_export  # noqa: E402

from gap_replay.eval.generate import generate  # noqa: E402
from gap_replay.eval.models import load_model  # noqa: E402

PROMPTS = [
    "Question: Which drug lowers blood pressure?\nAnswer:",
    "The patient",
    "Question: Is anorectal endosonography valuable in dyschesia? Let's think step by step.",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_export(tmp_path_factory.mktemp("generate") / "tiny", init_std=0.15)


@pytest.fixture(scope="module", params=["gap-replay", "transformers"])
def model(request, folder):
    return load_model(str(folder), backend=request.param, device="cpu")


def uncached_greedy(model, prompt: list[int], steps: int) -> str:
    """Independent of the cache: the whole sequence through the plain forward pass at every step, one prompt."""
    ids = [model.bos_id, *prompt]
    produced = []
    for _ in range(steps):
        logits = model.logits(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.bool))[0, -1]
        token = int(logits.argmax())
        if token == model.eos_id:
            break
        produced.append(token)
        ids.append(token)
    return model.tokenizer.decode(produced)


def test_cached_greedy_generation_equals_decoding_without_a_cache(model):
    prompts = [model.tokenizer.encode(text) for text in PROMPTS]
    texts = generate(model, prompts, max_new_tokens=12)
    assert texts == [uncached_greedy(model, prompt, 12) for prompt in prompts]
    assert all(texts)


def test_a_left_padded_batch_generates_what_each_prompt_does_alone(model):
    prompts = [model.tokenizer.encode(text) for text in PROMPTS]
    assert len({len(prompt) for prompt in prompts}) == 3
    alone = [generate(model, [prompt], max_new_tokens=10)[0] for prompt in prompts]
    assert generate(model, prompts, max_new_tokens=10) == alone


def test_sampling_is_reproducible_by_seed_and_moves_with_it(model):
    prompts = [model.tokenizer.encode(PROMPTS[1])] * 2

    def sampled(seeds):
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        return generate(model, prompts, max_new_tokens=8, temperature=1.0, generators=generators)

    assert sampled([1, 2]) == sampled([1, 2])
    first, second = sampled([1, 2])
    assert first != second or sampled([3, 4]) != [first, second]


def test_a_stop_string_ends_the_text_before_it(model):
    prompt = model.tokenizer.encode(PROMPTS[0])
    full = generate(model, [prompt], max_new_tokens=12)[0]
    stop = full[3:5]
    cut = generate(model, [prompt], max_new_tokens=12, stops=[stop])[0]
    assert cut == full[: full.find(stop)]


def test_generation_needs_room_and_sampling_needs_generators(model):
    prompt = model.tokenizer.encode(PROMPTS[1])
    with pytest.raises(ValueError, match="leaves no room for a prompt"):
        generate(model, [prompt], max_new_tokens=model.max_length)
    with pytest.raises(ValueError, match="one generator per prompt"):
        generate(model, [prompt], max_new_tokens=4, temperature=0.7)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_generation_runs_in_bf16_and_repeats_itself(folder):
    gpu = load_model(str(folder), backend="gap-replay", device="cuda")
    assert gpu.dtype == torch.bfloat16
    prompts = [gpu.tokenizer.encode(text) for text in PROMPTS]
    texts = generate(gpu, prompts, max_new_tokens=8)
    assert len(texts) == 3 and all(texts)
    assert generate(gpu, prompts, max_new_tokens=8) == texts
