"""Which face regions each attribute word speaks about, for the attribute names the built-in
models use (CelebA's and Sim2Word's): "Big Nose" speaks about the nose, "Smiling" about the
mouth and cheeks, "Gender" about the whole face. Models declare theirs from this table
(:attr:`~s2w_toolkit.interfaces.AttributeModel.regions`); the swap game reads them to tell
whether a word names a planted region.

Example:
    >>> ATTRIBUTE_REGIONS["Big Nose"], regions_for("Bushy Eyebrows"), regions_for("Earrings")
    (('nose',), ('eyebrows',), ('face',))
    >>> sorted(declare(("Smiling", "Age")).items())
    [('Age', ('face',)), ('Smiling', ('mouth', 'cheeks'))]
"""

from __future__ import annotations

from collections.abc import Iterable

#: Attribute name -> the face regions its words speak about (names of ``FACE_REGIONS``).
ATTRIBUTE_REGIONS: dict[str, tuple[str, ...]] = {
    "Gender": ("face",), "Age": ("face",), "Race": ("face",),
    "Big Nose": ("nose",), "Pointy Nose": ("nose",),
    "Big Lips": ("mouth",), "Mouth Closed": ("mouth",), "Mouth Open": ("mouth",), "Smiling": ("mouth", "cheeks"),
    "Frowning": ("mouth", "jaw"), "Eyes Closed": ("eyes",), "Brows Raised": ("eyebrows", "forehead"),
    "Brows Lowered": ("eyebrows",),
    "Narrow Eyes": ("eyes",), "Brown Eyes": ("eyes",), "Bags Under Eyes": ("eyes",),
    "Arched Eyebrows": ("eyebrows",), "Bushy Eyebrows": ("eyebrows",),
    "Mustache": ("mouth",), "Goatee": ("mouth", "jaw"), "Beard": ("jaw", "cheeks", "mouth"),
    "No Beard": ("jaw", "cheeks", "mouth"), "5 o'Clock Shadow": ("jaw", "cheeks"), "Sideburns": ("hair", "cheeks"),
    "Face Shape": ("jaw", "cheeks"), "Oval Face": ("jaw", "cheeks"), "Square Face": ("jaw",),
    "Round Face": ("jaw", "cheeks"), "Double Chin": ("jaw",), "High Cheekbones": ("cheeks",),
    "Chubby": ("cheeks", "jaw"),
    "Hair Color": ("hair",), "Bald": ("hair",), "Wavy Hair": ("hair",), "Bangs": ("hair", "forehead"),
    "Receding Hairline": ("hair", "forehead"), "Obstructed Forehead": ("forehead",),
    "Fully Visible Forehead": ("forehead",),
    "Eyes": ("eyes",), "Eyebrows": ("eyebrows",), "Nose": ("nose",), "Mouth": ("mouth",), "Cheeks": ("cheeks",),
    "Jaw": ("jaw",), "Forehead": ("forehead",),
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_BY_KEY = {_key(name): regions for name, regions in ATTRIBUTE_REGIONS.items()}


def regions_for(attribute: str) -> tuple[str, ...]:
    """The regions of ``attribute`` (matched without case, spaces or punctuation: ``big_nose``
    is Big Nose); the whole ``face`` for a name the table does not know."""
    return ATTRIBUTE_REGIONS.get(attribute) or _BY_KEY.get(_key(attribute), ("face",))


def declare(attributes: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``{attribute: regions}`` for a model's attributes."""
    return {a: regions_for(a) for a in attributes}
