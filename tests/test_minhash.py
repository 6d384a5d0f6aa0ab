import hashlib
import random

import numpy as np
import pytest
from datasketch import MinHash

from gap_replay.dedup.minhash import (
    band_keys,
    connected_components,
    hashes_signature,
    jaccard,
    jaccard_estimate,
    shingle_hashes,
    shingle_set,
    shingles,
    signature,
    word_shingle_hashes,
)
from gap_replay.recipe import MinHashConfig

CONFIG = MinHashConfig(num_perm=128, bands=16, rows=8, ngram=5, seed=1)

HEART_FAILURE = (
    "Heart failure with reduced ejection fraction is diagnosed when a patient has typical symptoms such as "
    "breathlessness, fatigue and ankle swelling together with a left ventricular ejection fraction of 40 percent "
    "or less on echocardiography. Every patient should be offered four classes of medicine that each lower "
    "mortality: an angiotensin receptor neprilysin inhibitor or an angiotensin converting enzyme inhibitor, a beta "
    "blocker licensed for heart failure, a mineralocorticoid receptor antagonist and a sodium glucose "
    "cotransporter 2 inhibitor. Start each medicine at a low dose and increase it every two to four weeks towards "
    "the target dose used in trials, checking blood pressure, heart rate, kidney function and potassium before "
    "each step. Loop diuretics relieve congestion but do not change survival, so use the lowest dose that keeps "
    "the patient free of oedema. Weigh daily at home and seek advice if weight rises by more than two kilograms "
    "in three days. Offer a personalised exercise based rehabilitation programme, vaccination against influenza "
    "and pneumococcus, and review by a specialist nurse within two weeks of discharge from hospital. Consider an "
    "implantable cardioverter defibrillator or cardiac resynchronisation therapy when the ejection fraction stays "
    "at 35 percent or less after three months of optimal treatment, and discuss the goals of care openly with "
    "the patient and family as the disease progresses over time."
)
NEAR_DUPLICATE = (
    HEART_FAILURE.replace("ankle swelling", "leg swelling")
    .replace("every two to four weeks", "every three to four weeks")
    .replace("specialist nurse", "heart failure nurse")
)
UNRELATED = (
    "Childhood asthma is suspected in a child with recurrent wheeze, cough and chest tightness that vary over "
    "time and respond to inhaled bronchodilators. Objective tests such as spirometry with bronchodilator "
    "reversibility or fractional exhaled nitric oxide support the diagnosis in children aged five years and over. "
    "Offer a short acting beta agonist as reliever therapy and add a low dose inhaled corticosteroid when "
    "symptoms occur three times a week or more, or when the child wakes at night because of asthma. Check "
    "inhaler technique at every visit, because most poor control reflects incorrect use rather than a need for "
    "more medicine. Provide a written personalised action plan that tells parents how to recognise worsening "
    "symptoms and when to seek urgent care. Avoid exposure to tobacco smoke at home and in the car. Review the "
    "child within two days after any emergency department visit and step treatment down once control has been "
    "good for at least three months."
)


def shared_bands(a: str, b: str) -> int:
    keys_a = set(band_keys(signature(a, CONFIG), CONFIG.bands, CONFIG.rows))
    keys_b = set(band_keys(signature(b, CONFIG), CONFIG.bands, CONFIG.rows))
    return len(keys_a & keys_b)


def test_shingles_are_word_ngrams_of_the_normalised_text():
    assert shingles("Give 5 mg, twice DAILY.", 3) == [b"give 5 mg", b"5 mg twice", b"mg twice daily"]


def test_dose_digits_make_different_shingles():
    assert set(shingles("Give 5 mg twice daily", 2)).isdisjoint(shingles("Give 50 mg twice daily", 2)[:2])
    assert set(shingles("Give 5 mg twice daily", 5)) != set(shingles("Give 50 mg twice daily", 5))


def test_a_text_shorter_than_n_words_is_one_shingle():
    assert shingles("Take with food", 5) == [b"take with food"]
    assert shingles("  ", 5) == []


def test_signature_is_uint64_num_perm_long_and_deterministic():
    sig = signature(HEART_FAILURE, CONFIG)
    assert sig.dtype == np.uint64 and sig.shape == (CONFIG.num_perm,)
    assert np.array_equal(sig, signature(HEART_FAILURE, CONFIG))


def plain_minhash(text: str) -> MinHash:
    """A datasketch MinHash built the textbook way, one shingle hash at a time."""
    plain = MinHash(num_perm=CONFIG.num_perm, seed=CONFIG.seed, scheme="affine64", hashfunc=int)
    for value in shingle_hashes(text, CONFIG.ngram).tolist():
        plain.update(value)
    return plain


def test_signature_matches_a_plain_datasketch_minhash():
    assert np.array_equal(signature(HEART_FAILURE, CONFIG), plain_minhash(HEART_FAILURE).hashvalues)


def test_shingle_hashes_follow_the_shingles():
    text = "Give 5 mg twice daily. Give 5 mg twice daily."
    values = shingle_hashes(text, 3)
    assert len(values) == len(shingles(text, 3))
    by_shingle = dict(zip(shingles(text, 3), values.tolist(), strict=True))
    assert len(set(by_shingle.values())) == len(by_shingle), "equal shingles, equal hashes; different, different"
    assert shingle_hashes("Give 5 mg", 3)[0] != shingle_hashes("Give 50 mg", 3)[0]
    assert len(shingle_hashes("two words", 5)) == 1
    assert len(shingle_hashes("", 5)) == 0


def test_a_shingle_hash_folds_its_words_hashes_modulo_2_to_the_64():
    def word(text):
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")

    mix = 0x9E3779B97F4A7C15
    words = ["give", "5", "mg", "twice", "daily", "with", "food"]
    expected = []
    for start in range(len(words) - 3 + 1):
        value = 0
        for text in words[start : start + 3]:
            value = (value * mix + word(text)) % 2**64
        expected.append(value)
    assert word_shingle_hashes(words, 3).tolist() == expected
    assert word_shingle_hashes(words[:2], 3).tolist() == [(word("give") * mix + word("5")) % 2**64]
    assert word_shingle_hashes([], 3).tolist() == []


def test_the_seed_changes_the_signature():
    other = CONFIG.model_copy(update={"seed": 2})
    assert not np.array_equal(signature(HEART_FAILURE, CONFIG), signature(HEART_FAILURE, other))


def test_long_texts_hashed_in_batches_equal_one_pass():
    words = " ".join(f"word{index % 997} dose{index % 13}" for index in range(12_000))
    assert np.array_equal(signature(words, CONFIG), plain_minhash(words).hashvalues)


def test_near_duplicates_share_a_band_and_unrelated_texts_do_not():
    assert len(HEART_FAILURE.split()) >= 200
    assert shared_bands(HEART_FAILURE, NEAR_DUPLICATE) >= 1
    assert shared_bands(HEART_FAILURE, UNRELATED) == 0


def test_jaccard_estimate_tells_near_duplicates_from_unrelated_texts():
    original = signature(HEART_FAILURE, CONFIG)
    assert jaccard_estimate(original, original) == 1.0
    assert jaccard_estimate(original, signature(NEAR_DUPLICATE, CONFIG)) > 0.7
    assert jaccard_estimate(original, signature(UNRELATED, CONFIG)) < 0.1


def test_a_signature_of_the_texts_shingle_hashes_is_the_texts_signature():
    hashes = shingle_hashes(HEART_FAILURE, CONFIG.ngram)
    assert np.array_equal(hashes_signature(hashes, CONFIG), signature(HEART_FAILURE, CONFIG))


def test_a_shingle_set_holds_each_shingle_once():
    # Six 5-word shingles, the first and the last the same.
    assert len(shingle_set(shingle_hashes("one two three four five one two three four five", 5))) == 5


def test_jaccard_is_shared_shingles_over_all_shingles():
    assert jaccard(np.array([1, 2, 3], dtype=np.uint64), np.array([2, 3, 4, 5], dtype=np.uint64)) == 2 / 5


def test_jaccard_of_disjoint_sets_is_zero_and_of_two_empty_sets_one():
    assert jaccard(np.array([1, 2], dtype=np.uint64), np.array([3], dtype=np.uint64)) == 0.0
    assert jaccard(np.array([], dtype=np.uint64), np.array([], dtype=np.uint64)) == 1.0


def test_jaccard_of_a_near_duplicates_shingle_sets_counts_the_shingles_an_edit_touches():
    words = HEART_FAILURE.lower().replace(",", "").replace(".", "").replace(":", "").split()
    edited = " ".join([*words[:50], "oedema", *words[51:]])
    # Replacing one word changes the 5 shingles that hold it (each shingle of the text is distinct).
    total = len(words) - 4
    sets = [shingle_set(shingle_hashes(text, 5)) for text in (" ".join(words), edited)]
    assert len(sets[0]) == total
    assert jaccard(*sets) == (total - 5) / (total + 5)


def test_jaccard_estimate_rejects_signatures_of_different_length():
    with pytest.raises(ValueError, match="equal length"):
        jaccard_estimate(np.zeros(128, dtype=np.uint64), np.zeros(64, dtype=np.uint64))


def test_band_keys_index_every_band_and_are_equal_for_equal_signatures():
    keys = band_keys(signature(HEART_FAILURE, CONFIG), 16, 8)
    assert [band for band, _ in keys] == list(range(16))
    assert all(isinstance(digest, bytes) for _, digest in keys)
    assert keys == band_keys(signature(HEART_FAILURE.upper(), CONFIG), 16, 8)


def test_same_rows_in_different_bands_give_different_keys():
    keys = band_keys(np.zeros(16, dtype=np.uint64), bands=2, rows=8)
    assert keys[0][1] == keys[1][1] and keys[0][0] != keys[1][0]


def test_band_keys_need_bands_times_rows_values():
    with pytest.raises(ValueError, match="16 bands x 4 rows need 64"):
        band_keys(np.zeros(128, dtype=np.uint64), 16, 4)


def test_connected_components_of_a_chain_and_a_pair():
    components = connected_components([("a", "b"), ("b", "c"), ("d", "e")])
    assert components == {"a": "a", "b": "a", "c": "a", "d": "d", "e": "d"}


def test_component_representative_is_the_smallest_id_whatever_the_edge_order():
    edges = [("pubmed:9", "pmc:PMC7"), ("pmc:PMC7", "guidelines/who:x"), ("replay/wiki:1", "pubmed:9"), ("z", "y")]
    expected = {node: "guidelines/who:x" for edge in edges[:3] for node in edge} | {"y": "y", "z": "y"}
    for seed in range(5):
        shuffled = [tuple(random.Random(seed).sample(edge, 2)) for edge in edges]
        random.Random(seed).shuffle(shuffled)
        assert connected_components(shuffled) == expected


def test_self_edges_make_single_node_components():
    assert connected_components([("a", "a")]) == {"a": "a"}
