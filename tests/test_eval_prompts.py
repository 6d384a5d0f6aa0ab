"""Prompts: the bundled template's exact text, templates checked part by part, shots drawn reproducibly."""

import hashlib
from importlib import resources

import pytest

from gap_replay.eval.prompts import draw_shots, load_template, parse_template
from gap_replay.eval.tasks import Item

ITEM = Item("9", "Which drug lowers blood pressure?", (("A", "insulin"), ("B", "amlodipine")), "B")
SHOT = Item("3", "Is aspirin an antiplatelet?", (("A", "yes"), ("B", "no"), ("C", "maybe")), "A")
TEMPLATE = b"""instruction: "Answer these."
separator: "\\n---\\n"
question: "Q: {question}\\n{options}\\nA:"
option: "({letter}) {text}"
choice: " {letter}"
cloze: "Q: {question}\\nA:"
continuation: " {text}"
reasoning: " Think."
"""


def test_the_bundled_template_gives_the_meditron_style_prompt_with_one_shot():
    prompt = load_template().multiple_choice(ITEM, [SHOT])
    assert prompt == (
        "The following are multiple choice questions (with answers) about medicine.\n\n"
        "Question: Is aspirin an antiplatelet?\nOptions:\nA. yes\nB. no\nC. maybe\nAnswer: A\n\n"
        "Question: Which drug lowers blood pressure?\nOptions:\nA. insulin\nB. amlodipine\nAnswer:"
    )


def test_the_bundled_cloze_prompt_ends_each_shot_with_its_answer_text():
    prompt = load_template().cloze_prompt(ITEM, [SHOT])
    assert prompt == (
        "The following are multiple choice questions (with answers) about medicine.\n\n"
        "Question: Is aspirin an antiplatelet?\nAnswer: yes\n\n"
        "Question: Which drug lowers blood pressure?\nAnswer:"
    )


def test_the_template_sha256_is_of_the_file_bytes(tmp_path):
    bundled = resources.files("gap_replay.eval").joinpath("templates", "multiple_choice.yaml").read_bytes()
    assert load_template().sha256 == hashlib.sha256(bundled).hexdigest()
    path = tmp_path / "mine.yaml"
    path.write_bytes(TEMPLATE)
    template = load_template(str(path))
    assert (template.path, template.sha256) == (str(path), hashlib.sha256(TEMPLATE).hexdigest())


def test_a_template_file_lays_out_every_part_as_written(tmp_path):
    template = parse_template(TEMPLATE, "mine.yaml")
    assert (
        template.multiple_choice(ITEM, [])
        == "Answer these.\n---\nQ: Which drug lowers blood pressure?\n(A) insulin\n(B) amlodipine\nA:"
    )
    assert template.choice_of("B") == " B"
    assert template.continuation_of("amlodipine") == " amlodipine"


def test_without_an_instruction_the_prompt_starts_at_the_first_question():
    template = parse_template(TEMPLATE.replace(b'"Answer these."', b'""'), "mine.yaml")
    assert template.cloze_prompt(ITEM, []) == "Q: Which drug lowers blood pressure?\nA:"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ((b'choice: " {letter}"', b'choice: " {text}"'), r"choice uses \['text'\]; it may use \['letter'\]"),
        ((b'reasoning: " Think."', b'reasoning: " {question}"'), r"reasoning uses \['question'\]; it may use none"),
        ((b'reasoning: " Think."\n', b""), r"missing part\(s\) \['reasoning'\]"),
        ((b'reasoning: " Think."', b'reasoning: " Think."\nfooter: "x"'), r"unknown part\(s\) \['footer'\]"),
        ((b'option: "({letter}) {text}"', b'option: "({letter) {text}"'), "option: "),
        ((b'separator: "\\n---\\n"', b"separator: 3"), "separator must be text"),
    ],
)
def test_a_template_part_that_is_wrong_is_named(edit, message):
    with pytest.raises(ValueError, match=f"mine.yaml: {message}"):
        parse_template(TEMPLATE.replace(*edit), "mine.yaml")


def test_a_template_that_is_not_a_mapping_is_refused():
    with pytest.raises(ValueError, match=r"mine\.yaml: a template is a mapping"):
        parse_template(b"- a\n- b\n", "mine.yaml")


POOL = [Item(str(n), f"Q{n}?", (("A", "x"), ("B", "y")), "A") for n in range(10)]


def test_shots_never_include_the_item_and_are_the_same_on_every_call():
    shots = draw_shots(POOL[4], POOL, 3, seed=1234, task="medqa")
    assert len(shots) == 3 and POOL[4] not in shots
    assert draw_shots(POOL[4], POOL, 3, seed=1234, task="medqa") == shots


def test_shots_depend_on_the_seed_and_the_item():
    drawn = {tuple(s.id for s in draw_shots(POOL[0], POOL, 3, seed=seed, task="medqa")) for seed in range(8)}
    assert len(drawn) > 1
    by_item = {tuple(s.id for s in draw_shots(item, POOL, 3, seed=1, task="medqa")) for item in POOL}
    assert len(by_item) > 1


def test_zero_shots_is_an_empty_list_and_too_few_candidates_an_error():
    assert draw_shots(POOL[0], POOL, 0, seed=1, task="medqa") == []
    assert len(draw_shots(POOL[0], POOL, 9, seed=1, task="medqa")) == 9
    with pytest.raises(ValueError, match="medqa: 10 shots asked, but only 9 other items"):
        draw_shots(POOL[0], POOL, 10, seed=1, task="medqa")
