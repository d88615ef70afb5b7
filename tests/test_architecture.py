"""The import graph keeps the layers of docs/architecture.md: no room imports from a room above
its own, and no two rooms import each other (module-level imports; deferred ones are allowed)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "s2w_toolkit"


def documented_layers() -> dict[str, int]:
    table = re.findall(r"^\| (\d) \| ([\w, ]+) \|", (ROOT / "docs" / "architecture.md").read_text(), re.M)
    return {room.strip(): int(layer) for layer, rooms in table for room in rooms.split(",")}


def room_of(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def module_imports(path: Path) -> set[str]:
    """The s2w_toolkit modules ``path`` imports at module level (not under ``if``, e.g.
    ``TYPE_CHECKING``, and not inside functions)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                found |= {target} if node.module else {f"{target}.{a.name}" for a in node.names}
            elif (node.module or "").startswith("s2w_toolkit"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("s2w_toolkit")}
    return found


def room_edges() -> dict[tuple[str, str], str]:
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        if path.parent == PACKAGE and path.name == "__init__.py":
            continue  # the package root only re-exports, lazily
        source = room_of(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for target in module_imports(path):
            if room_of(target) and room_of(target) != source:
                edges.setdefault((source, room_of(target)), str(path.relative_to(ROOT)))
    return edges


def test_every_room_is_in_the_architecture_page():
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert rooms == set(documented_layers()), "docs/architecture.md's layer table must list every room"


def test_no_room_imports_from_a_higher_layer():
    layers = documented_layers()
    upward = [f"{where}: {a} (layer {layers[a]}) imports {b} (layer {layers[b]})"
              for (a, b), where in room_edges().items() if layers[b] > layers[a]]
    assert not upward, "\n".join(upward)


def test_no_two_rooms_import_each_other():
    edges = room_edges()
    cycles = sorted({tuple(sorted((a, b))) for a, b in edges if (b, a) in edges})
    assert not cycles, f"rooms that import each other: {cycles}"
