"""A copy of a real screening's store for each builder test."""

import pytest

from tests.builders.screened import screened_copy


@pytest.fixture
def location(tmp_path, tmp_path_factory) -> str:
    """Store location holding the job outputs of a real two-candidate screening."""
    return screened_copy(tmp_path_factory.getbasetemp(), tmp_path / "store")
