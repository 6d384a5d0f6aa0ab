import hashlib

from gap_replay.dedup.exact import exact_key, normalize_for_exact, normalized_words


def test_case_punctuation_markup_and_spacing_do_not_matter():
    markdown = "## Dosing\n\n- **Give** amoxicillin, 40 mg/kg per day!"
    plain = "dosing give   AMOXICILLIN 40 mg kg per day"
    assert normalize_for_exact(markdown) == "dosing give amoxicillin 40 mg kg per day"
    assert exact_key(markdown) == exact_key(plain)


def test_digits_are_kept():
    assert exact_key("Give 5 mg twice daily.") != exact_key("Give 50 mg twice daily.")


def test_a_decimal_point_does_not_merge_numbers():
    assert exact_key("1.5 mg") != exact_key("15 mg")


def test_compatibility_forms_are_folded():
    assert normalize_for_exact("５ ｍｇ of ﬁbrinogen in STRASSE") == normalize_for_exact("5 mg of fibrinogen in straße")


def test_letters_of_any_script_and_their_accents_are_kept():
    assert normalize_for_exact("β-Blocker für Ältere") == "β blocker für ältere"
    assert exact_key("Fièvre") != exact_key("Fievre")


def test_table_rules_and_separators_leave_nothing_behind():
    assert normalize_for_exact("| Drug | Dose |\n|---|:---:|\n| A | 5 mg |") == "drug dose a 5 mg"


def test_key_is_the_hex_sha1_of_the_normalised_text():
    assert exact_key("Hello, World") == hashlib.sha1(b"hello world").hexdigest()


def test_the_normalised_words_are_those_of_the_normalised_text():
    text = "## Dosing: give *Amoxicillin*, 40 mg/kg — twice daily."
    assert normalized_words(text) == ["dosing", "give", "amoxicillin", "40", "mg", "kg", "twice", "daily"]
    assert " ".join(normalized_words(text)) == normalize_for_exact(text)
    assert normalized_words(" \n ") == []
