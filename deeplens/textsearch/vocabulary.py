"""Class vocabularies: each class a classifier scores, with its synonyms and definition.

ImageNet-1k classes are WordNet synsets; timm (installed with open-clip-torch) ships their
lemmas ("tabby, tabby cat") and glosses ("a cat with a grey or tawny coat …"), and
open_clip ships OpenAI's cleaned class names ("hammerhead shark" for "hammerhead"). The
definitions matter: they often name the class's genus ("… a domestic cat …", "a rocket
carrying a warhead …"), which is how a general word like "cat" or "rocket" reaches the
specific classes ImageNet has.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassEntry:
    """One class: its column in the classifier output, display name, synonyms and definition."""

    index: int
    name: str
    synonyms: tuple[str, ...]
    definition: str = ""


def _split(names: str) -> list[str]:
    return [part.strip() for part in names.split(",") if part.strip()]


def _dedupe(names: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return tuple(seen.values())


@lru_cache(maxsize=1)
def imagenet_vocabulary() -> tuple[ClassEntry, ...]:
    """The 1000 ImageNet-1k classes in classifier order (torchvision's names first)."""
    import torchvision

    names = list(torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])
    lemmas: list[list[str]] = [[] for _ in names]
    definitions = ["" for _ in names]
    try:
        from timm.data import ImageNetInfo

        info = ImageNetInfo("imagenet-1k")
        for i in range(len(names)):
            synset = info.index_to_label_name(i)
            lemmas[i] = _split(info._lemmas.get(synset, ""))  # timm exposes no accessor for lemmas alone
            definitions[i] = info._definitions.get(synset, "")
    except (ImportError, AttributeError, AssertionError) as exc:
        log.warning("ImageNet lemmas and definitions unavailable (%s); text search uses class names only", exc)
    clean: Sequence[str] = ()
    try:
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        clean = IMAGENET_CLASSNAMES
    except ImportError:
        pass
    return tuple(
        ClassEntry(
            index=i,
            name=name,
            synonyms=_dedupe([name, *lemmas[i], *([clean[i]] if len(clean) == len(names) else []), *_split(name)]),
            definition=definitions[i],
        )
        for i, name in enumerate(names)
    )


def vocabulary_for(class_names: Sequence[str]) -> tuple[ClassEntry, ...]:
    """The vocabulary of a classifier with these class names: ImageNet's when they are ImageNet-1k's,
    else the names themselves (comma-separated synonyms split), without definitions."""
    imagenet = imagenet_vocabulary()
    if len(class_names) == len(imagenet) and all(a == b.name for a, b in zip(class_names, imagenet)):
        return imagenet
    return tuple(ClassEntry(i, _split(n)[0] if _split(n) else n, _dedupe(_split(n) or [n])) for i, n in enumerate(class_names))
