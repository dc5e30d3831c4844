"""Made-up words for packaging: brand names, product names and small print.

Brand words are built from syllables rather than picked from a list so that a catalog
of any size gets distinct, pronounceable brands; real-world-like product names come
from small vocabularies. Everything is ASCII because the Hershey fonts are.
"""

from __future__ import annotations

import numpy as np

_ONSETS = ["b", "br", "c", "cr", "d", "dr", "f", "fl", "g", "gr", "k", "kl", "l", "m", "n",
           "p", "pl", "pr", "r", "s", "sk", "st", "t", "tr", "v", "z"]  # fmt: skip
_VOWELS = ["a", "e", "i", "o", "u", "a", "o", "ai", "ou", "ee"]
_CODAS = ["", "", "", "n", "r", "x", "l", "s", "m", "k"]

ADJECTIVES = ["Crunchy", "Golden", "Spicy", "Fresh", "Classic", "Zesty", "Honey", "Dark", "Wild",
              "Smooth", "Roasted", "Crispy", "Mild", "Extra", "Pure", "Royal", "Super", "Tropical",
              "Velvet", "Mega", "Lemon", "Berry", "Mint", "Sunny", "Rustic", "Arctic", "Organic",
              "Salted", "Vanilla", "Cocoa"]  # fmt: skip
NOUNS = ["Oat Bites", "Tea", "Coffee", "Crackers", "Granola", "Soap", "Shampoo", "Cereal", "Cookies",
         "Juice", "Chips", "Noodles", "Detergent", "Toothpaste", "Chocolate", "Muesli", "Biscuits",
         "Pasta", "Rice", "Soup", "Wafers", "Candy", "Gum", "Cocoa Mix", "Pretzels", "Lotion",
         "Sponges", "Tissues", "Popcorn", "Nut Mix"]  # fmt: skip
_FILLER = ["natural", "flavour", "quality", "recipe", "source", "blend", "original", "since",
           "family", "made", "with", "care", "best", "before", "store", "dry", "place", "keep",
           "cool", "serving", "energy", "protein", "fibre", "sugars", "salt", "contains", "may",
           "traces", "of", "nuts", "milk", "wheat", "soy", "recyclable", "pack", "batch", "lot"]  # fmt: skip
TAGLINES = ["NEW", "-20%", "BIO", "XL", "2 FOR 1", "LIGHT", "NO. 1", "HOT", "FAMILY", "MAX"]


def brand_word(rng: np.random.Generator) -> str:
    """A pronounceable made-up brand word of 4-9 letters, capitalised."""
    while True:
        syllables = int(rng.integers(2, 4))
        word = "".join(
            str(rng.choice(_ONSETS)) + str(rng.choice(_VOWELS)) + (str(rng.choice(_CODAS)) if i == syllables - 1 else "")
            for i in range(syllables)
        )
        if 4 <= len(word) <= 9:
            return word.capitalize()


def product_name(rng: np.random.Generator) -> str:
    """A product name such as ``Golden Oat Bites``."""
    return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"


def small_print(rng: np.random.Generator, lines: int) -> tuple[str, ...]:
    """Lines of fine print (ingredients, storage, batch); texture more than meaning."""
    out: list[str] = []
    for _ in range(lines):
        kind = int(rng.integers(0, 4))
        if kind == 0:
            out.append(f"INGREDIENTS: {', '.join(str(w) for w in rng.choice(_FILLER, 3, replace=False))}")
        elif kind == 1:
            lot, month, year = int(rng.integers(10000, 99999)), int(rng.integers(1, 13)), int(rng.integers(2026, 2031))
            out.append(f"LOT {lot}  BEST BEFORE {month:02d}/{year}")
        elif kind == 2:
            out.append(f"{int(rng.integers(50, 600))} kcal per {int(rng.integers(20, 100))} g serving")
        else:
            out.append(" ".join(str(w) for w in rng.choice(_FILLER, int(rng.integers(4, 7)), replace=False)))
    return tuple(out)


def net_weight(rng: np.random.Generator) -> str:
    """A net-content line such as ``NET WT 250 g``."""
    unit = str(rng.choice(["g", "ml", "oz"]))
    amount = int(rng.choice([50, 75, 100, 125, 150, 200, 250, 300, 330, 400, 500, 750]))
    return f"NET WT {amount} {unit}"
