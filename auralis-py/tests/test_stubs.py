"""The type stubs match the native module: the same public names, and for every function and
method the same parameter names, defaults and kinds (read from the module's text signatures)."""

import ast
import inspect
from pathlib import Path

import auralis_core
from auralis_core import _native

STUB = Path(auralis_core.__file__).with_name("_native.pyi")


def stub_tree():
    return ast.parse(STUB.read_text())


def params_of_stub(fn: ast.FunctionDef, drop_self: bool):
    args = fn.args
    names = [a.arg for a in args.args]
    defaults = [None] * (len(args.args) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults
    ]
    pairs = list(zip(names, defaults))
    return pairs[1:] if drop_self else pairs


def params_of_native(obj):
    sig = inspect.signature(obj)
    return [
        (p.name, None if p.default is inspect.Parameter.empty else p.default)
        for p in sig.parameters.values()
        if p.name not in ("self", "cls", "slf", "/")
    ]


def test_public_names_match():
    tree = stub_tree()
    stubbed = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            stubbed.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            stubbed.add(node.target.id)
    native = {n for n in dir(_native) if not n.startswith("_")} | {"__version__"}
    assert stubbed == native


def test_signatures_match():
    checked = 0
    for node in stub_tree().body:
        if isinstance(node, ast.FunctionDef):
            assert params_of_stub(node, False) == params_of_native(getattr(_native, node.name)), node.name
            checked += 1
        if isinstance(node, ast.ClassDef):
            cls = getattr(_native, node.name)
            for item in node.body:
                if not isinstance(item, ast.FunctionDef):
                    continue
                decorated = {getattr(d, "id", None) for d in item.decorator_list}
                member = getattr(cls, item.name)
                if "property" in decorated:
                    assert isinstance(member, property) or inspect.isdatadescriptor(member), item.name
                    continue
                if item.name in ("__iter__", "__next__"):
                    assert callable(member)
                    continue
                target = cls if item.name == "__new__" else member
                assert params_of_stub(item, True) == params_of_native(target), f"{node.name}.{item.name}"
                checked += 1
    assert checked >= 18  # the loop really compared the functions and methods


def test_exception_hierarchy_matches():
    for node in stub_tree().body:
        if isinstance(node, ast.ClassDef) and node.bases:
            base = node.bases[0]
            name = base.id if isinstance(base, ast.Name) else None
            if name in ("Exception", "AuralisError"):
                expected = Exception if name == "Exception" else _native.AuralisError
                assert getattr(_native, node.name).__bases__ == (expected,), node.name


def test_the_signature_defaults_are_the_librarys():
    """The Python defaults are the core's (one place: StreamSettings::default), not restated."""
    import inspect

    d = _native.defaults()
    params = inspect.signature(_native.Stream).parameters
    for name in ("preset", "intensity", "chunk_seconds", "bitrate", "complexity", "container"):
        assert params[name].default == d[name], name
    assert d == {"preset": "adaptive", "intensity": 1.0, "chunk_seconds": 30.0,
                 "bitrate": 128000, "complexity": 10, "container": "webm"}
    assert inspect.signature(_native.probe).parameters["chunk_seconds"].default == d["chunk_seconds"]
