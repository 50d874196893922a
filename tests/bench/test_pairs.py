"""Each revision of a pairs run is exported whole, so its worker runs its own code."""

from pathlib import Path

from tests.bench.pairs import export


def test_a_revision_is_exported_into_a_directory_of_its_own(tmp_path: Path) -> None:
    first, second = export("HEAD", tmp_path), export("HEAD", tmp_path)

    assert first != second
    for tree in (first, second):
        assert (tree / "streams" / "cli.py").is_file()
        assert (tree / "tests" / "bench" / "pipeline.py").is_file()
