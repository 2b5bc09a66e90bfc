import os
from pathlib import Path

import pytest
import torch

# Two torch processes with two threads each on two cores slow each other ~100x: tests pin.
THREADS = int(os.environ.get("CTM_TEST_THREADS", "2"))
torch.set_num_threads(THREADS)


@pytest.fixture(scope="session", autouse=True)
def fresh_cache(tmp_path_factory):
    """Generated data sets (sudoku puzzles) go to a cache of this test session's own, so no
    test reads what an earlier version of the code made."""
    previous = os.environ.get("CTM_CACHE")
    os.environ["CTM_CACHE"] = str(tmp_path_factory.mktemp("ctm-cache"))
    yield
    if previous is None:
        os.environ.pop("CTM_CACHE", None)
    else:
        os.environ["CTM_CACHE"] = previous


@pytest.fixture(autouse=True)
def pinned_threads():
    """Every test starts with the same thread count, whatever an earlier one set (`ctm ...
    --threads 1` sets it for the process): results summed in another order differ, and a
    long training drifts apart from them."""
    torch.set_num_threads(THREADS)
    yield


def shared_dir() -> Path | None:
    """The workplace's shared/ folder beside the repository (CTM_SHARED overrides)."""
    candidates = [os.environ.get("CTM_SHARED"), Path(__file__).resolve().parents[2] / "shared"]
    for candidate in candidates:
        if candidate and Path(candidate, "fixtures", "original-ctm").is_dir():
            return Path(candidate)
    return None


def fixtures_required() -> bool:
    """Under CI (CI=true) or with CTM_REQUIRE_FIXTURES=1, missing fixtures fail: a skipped
    comparison with the original would be a test that cannot fail."""
    return (os.environ.get("CI", "").lower() == "true"
            or os.environ.get("CTM_REQUIRE_FIXTURES") == "1")


@pytest.fixture
def fixtures_dir() -> Path:
    shared = shared_dir()
    if shared is None:
        message = ("../shared/fixtures/original-ctm is not here (set CTM_SHARED to the folder "
                   "that holds fixtures/)")
        if fixtures_required():
            pytest.fail(message + "; CI and CTM_REQUIRE_FIXTURES=1 need it")
        pytest.skip(message)
    return shared / "fixtures" / "original-ctm"
