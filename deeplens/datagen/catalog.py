"""The catalog: products (with look-alikes) and distractor items, as artwork specs.

Look-alikes are what makes product recognition hard in practice: the same brand across
a product line, store brands copying a leader's colours, one design template reused.
A look-alike copies exactly one of those traits from its source and draws the rest
fresh:

- ``word``: same brand word, brand font and logo; new name, palette and layout.
- ``palette``: same colours and pattern style; new brand, name and layout.
- ``layout``: same template, shape, fonts, logo style and stripes; new colours and text.

Distractors are packages that show up in videos but are not in the catalog; in presets
with look-alikes, half of them share a brand word with a catalog product.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import words
from .artwork import FONTS, LAYOUTS, LOGOS, NAME_FONTS, PATTERNS, ArtSpec
from .palette import random_palette
from .presets import Preset

LOOKALIKE_KINDS = ("word", "palette", "layout")
PHOTO_NAMES = ("front.jpg", "angled.jpg", "shifted.jpg")


@dataclass(frozen=True)
class CatalogItem:
    """A product (``SKU-…``) or distractor (``DISTRACTOR-…``) and how to draw it."""

    key: str
    spec: ArtSpec
    lookalike_of: str | None = None
    photos: tuple[str, ...] = ()  # empty for distractors: they have no catalog photos


class _Names:
    """Hands out brand words and (brand, name) pairs that are not taken yet."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.brands: set[str] = set()
        self.pairs: set[tuple[str, str]] = set()

    def brand(self) -> str:
        while (b := words.brand_word(self.rng)) in self.brands:
            pass
        self.brands.add(b)
        return b

    def name(self, brand: str) -> str:
        while (brand, n := words.product_name(self.rng)) in self.pairs:
            pass
        self.pairs.add((brand, n))
        return n


def random_spec(rng: np.random.Generator, art_height: int, brand: str, name: str) -> ArtSpec:
    """A fresh package design for ``brand`` / ``name``."""
    # Mostly upright boxes and bags; now and then a wide one (crackers, tea boxes).
    aspect = rng.uniform(1.1, 1.4) if rng.random() < 0.15 else rng.uniform(0.6, 0.95)
    return ArtSpec(
        brand=brand,
        name=name,
        palette=random_palette(rng),
        layout=str(rng.choice(LAYOUTS)),
        width=round(art_height * aspect),
        height=art_height,
        brand_font=int(rng.choice(FONTS)),
        name_font=int(rng.choice(NAME_FONTS)),
        italic=bool(rng.random() < 0.3),
        logo=str(rng.choice(LOGOS)),
        logo_sides=int(rng.integers(3, 9)),
        pattern=str(rng.choice(PATTERNS)),
        stripe_angle=float(rng.choice([0.0, 90.0, 45.0, -45.0, 30.0, -60.0])) + float(rng.uniform(-5, 5)),
        stripe_period=float(rng.uniform(0.02, 0.06)),
        tagline=str(rng.choice(words.TAGLINES)) if rng.random() < 0.5 else None,
        weight=words.net_weight(rng),
        small_print=words.small_print(rng, int(rng.integers(3, 6))),
        detail_seed=int(rng.integers(2**31)),
    )


def lookalike_spec(rng: np.random.Generator, source: ArtSpec, kind: str, names: _Names) -> ArtSpec:
    """A new design that shares the ``kind`` trait with ``source`` (see module docstring)."""
    if kind == "word":
        fresh = random_spec(rng, source.height, source.brand, names.name(source.brand))
        return replace(fresh, brand_font=source.brand_font, italic=source.italic, logo=source.logo,
                       logo_sides=source.logo_sides)  # fmt: skip
    brand = names.brand()
    fresh = random_spec(rng, source.height, brand, names.name(brand))
    if kind == "palette":
        return replace(fresh, palette=source.palette, pattern=source.pattern)
    if kind == "layout":
        return replace(
            fresh,
            layout=source.layout,
            width=source.width,
            brand_font=source.brand_font,
            name_font=source.name_font,
            italic=source.italic,
            logo=source.logo,
            logo_sides=source.logo_sides,
            pattern=source.pattern,
            stripe_angle=source.stripe_angle,
            stripe_period=source.stripe_period,
        )
    raise ValueError(f"unknown look-alike kind {kind!r}")


def brand_sibling_spec(rng: np.random.Generator, source: ArtSpec, name: str) -> ArtSpec:
    """Another product of ``source``'s brand, drawn the same way: same brand word, fonts, logo
    and layout; its own colours, name, pattern, fine print and barcode. Harder than any
    look-alike kind, since geometry alone verifies it: the shared parts sit in the same places."""
    fresh = random_spec(rng, source.height, source.brand, name)
    return replace(fresh, layout=source.layout, width=source.width, brand_font=source.brand_font,
                   name_font=source.name_font, italic=source.italic, logo=source.logo, logo_sides=source.logo_sides)  # fmt: skip


def build_catalog(rng: np.random.Generator, preset: Preset) -> tuple[list[CatalogItem], list[CatalogItem]]:
    """Products sorted by SKU, and distractors; deterministic in ``rng``."""
    names = _Names(rng)
    n_base = preset.n_products - preset.lookalikes
    specs: list[ArtSpec] = []
    for _ in range(n_base):
        brand = names.brand()
        specs.append(random_spec(rng, preset.art_height, brand, names.name(brand)))
    sources: list[int | None] = [None] * n_base
    # Distinct sources while possible, so look-alike pairs don't pile onto one product.
    for src in rng.choice(n_base, preset.lookalikes, replace=preset.lookalikes > n_base):
        specs.append(lookalike_spec(rng, specs[int(src)], str(rng.choice(LOOKALIKE_KINDS)), names))
        sources.append(int(src))

    # Shuffle SKU numbers so look-alikes are not simply the last SKUs.
    sku_of = [f"SKU-{1001 + int(p)}" for p in rng.permutation(len(specs))]
    lo, hi = preset.photos_per_product
    products = []
    for i, spec in enumerate(specs):
        chosen = [str(n) for n in rng.permutation(PHOTO_NAMES[1:])[: int(rng.integers(lo, hi + 1)) - 1]]
        extra = sorted(chosen, key=PHOTO_NAMES.index)
        src = sources[i]
        products.append(CatalogItem(sku_of[i], spec, sku_of[src] if src is not None else None, ("front.jpg", *extra)))
    products.sort(key=lambda item: int(item.key.split("-")[1]))

    distractors = []
    for j in range(preset.distractors):
        if preset.lookalikes > 0 and j % 2 == 0:
            source = products[int(rng.integers(len(products)))]
            spec = lookalike_spec(rng, source.spec, "word", names)
            distractors.append(CatalogItem(f"DISTRACTOR-{j + 1}", spec, source.key))
        else:
            brand = names.brand()
            spec = random_spec(rng, preset.art_height, brand, names.name(brand))
            distractors.append(CatalogItem(f"DISTRACTOR-{j + 1}", spec))
    return products, distractors
