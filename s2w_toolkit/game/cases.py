"""Who plays the swap game: people and their photos (from identity folders or a pair list), and
the seeded plan of every case (probe, mate, region, donor).

For each person with at least two usable photos, a seeded draw picks a probe P and a mate M. For
each region, ``donors`` other people (seeded) each give one photo whose region is planted on M;
one **null** case plants the same region from another photo of the same person, or from M itself
when the person has only two photos, so that a method can be caught naming a difference that is
not there.

Example:
    >>> people = {"ann": ["a1.jpg", "a2.jpg", "a3.jpg"], "bob": ["b1.jpg", "b2.jpg"], "cy": ["c1.jpg"]}
    >>> plan = plan_cases(people, ["nose"], donors=2, seed=0)
    >>> [(c.kind, c.person, c.donor_person) for c in plan if c.person == "ann"]
    [('swap', 'ann', 'bob'), ('swap', 'ann', 'cy'), ('null', 'ann', 'ann')]
    >>> sorted({c.person for c in plan})  # cy has one photo: a donor only
    ['ann', 'bob']
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import S2WError


@dataclass(frozen=True)
class PlannedCase:
    """One planned swap: ``region`` of ``donor`` (a photo of ``donor_person``) planted on
    ``mate``, to be compared with ``mate`` itself (the self pair) and with ``probe``.

    Example:
        >>> c = PlannedCase("ann", "a1.jpg", "a2.jpg", "nose", "bob", "b1.jpg", "swap")
        >>> c.case_id
        'ann-nose-bob-...'
    """

    person: str
    probe: str
    mate: str
    region: str
    donor_person: str
    donor: str
    kind: str  # "swap" or "null"

    @property
    def case_id(self) -> str:
        """A readable, unique and file-safe name of the case."""
        from ..io.names import safe_name

        digest = hashlib.sha256("|".join((self.probe, self.mate, self.region, self.donor, self.kind))
                                .encode()).hexdigest()[:8]
        return f"{safe_name(self.person)}-{self.region}-{safe_name(self.donor_person)}-{digest}"


def people_from_folder(folder: str | Path) -> dict[str, list[str]]:
    """``{person: [photo, ...]}`` of a folder of identity folders (sorted)."""
    from ..bench.pairs import identity_folders

    return {name: [str(p) for p in photos] for name, photos in identity_folders(Path(folder)).items()}


def people_from_pairs(pairs: Sequence[object]) -> dict[str, list[str]]:
    """People of a pair list: the photos joined by mate pairs are one person (named after the
    folder of its first photo); a photo in no mate pair is a person of its own."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for spec in pairs:
        a, b = root(spec.a), root(spec.b)  # type: ignore[attr-defined]
        if spec.same and a != b:  # type: ignore[attr-defined]
            parent[b] = a
    groups: dict[str, list[str]] = {}
    for photo in sorted(parent):
        groups.setdefault(root(photo), []).append(photo)
    people: dict[str, list[str]] = {}
    for photos in sorted(groups.values()):
        name = Path(photos[0]).parent.name or Path(photos[0]).stem
        unique, n = name, 1
        while unique in people:
            n += 1
            unique = f"{name}-{n}"
        people[unique] = photos
    return people


def plan_cases(people: dict[str, list[str]], regions: Sequence[str], donors: int, seed: int) -> list[PlannedCase]:
    """Every case of a game, seeded: per person with two or more photos, per region, ``donors``
    swaps from other people and one null case."""
    players = [name for name, photos in people.items() if len(photos) >= 2]
    if not players:
        raise S2WError("no person has two usable photos, so there is no mate to plant a region on")
    if len(people) < 2:
        raise S2WError("the game needs at least two people: one to plant a region on, one to give it")
    plan = []
    for person in players:
        rng = random.Random(f"{seed}:{person}")
        probe, mate = rng.sample(people[person], 2)
        others = [p for p in people[person] if p not in (probe, mate)]
        strangers = [name for name in people if name != person]
        for region in regions:
            for donor_person in sorted(rng.sample(strangers, min(donors, len(strangers))), key=strangers.index):
                plan.append(PlannedCase(person, probe, mate, region, donor_person,
                                        rng.choice(people[donor_person]), "swap"))
            null = rng.choice(others) if others else mate
            plan.append(PlannedCase(person, probe, mate, region, person, null, "null"))
    return plan
