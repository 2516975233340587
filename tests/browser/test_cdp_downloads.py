"""The download limits, event by event: which download is stopped, when, and what the code is
told (the end-to-end rows are in ``tests/reliability/test_reliability_downloads.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.browser.cdp_downloads import Download, DownloadLimits, files_of

MIB = 1024 * 1024


def progress(guid: str, received: int, total: int = 0, state: str = "inProgress") -> Any:
    return ("Browser.downloadProgress", {"guid": guid, "receivedBytes": received,
                                         "totalBytes": total, "state": state})  # fmt: skip


def test_a_download_is_stopped_once_when_its_announced_size_passes_the_limit() -> None:
    limits = DownloadLimits(max_file_bytes=10 * MIB, quota_bytes=100 * MIB)
    begin = {"guid": "a", "suggestedFilename": "big.bin", "url": "https://x/big"}
    assert limits.observe("Browser.downloadWillBegin", begin) is None
    stopped = limits.observe(*progress("a", 0, total=11 * MIB))
    assert stopped is not None and stopped.guid == "a" and not stopped.removed
    assert limits.observe(*progress("a", 1 * MIB, total=11 * MIB)) is None  # already stopped
    assert limits.observe("Page.downloadProgress", progress("a", 2 * MIB)[1]) is None
    limits.stopped(stopped, how="cancelled")
    (note,) = limits.take_notes()
    assert "'big.bin' (https://x/big) was cancelled at 11.0 MiB" in note
    assert "larger than the 10 MiB a download may be (AGENT_SANDBOX_FILE_SIZE_MB)" in note
    assert limits.take_notes() == []


def test_a_download_without_a_size_is_stopped_as_its_bytes_pass_the_limit() -> None:
    limits = DownloadLimits(max_file_bytes=10 * MIB, quota_bytes=100 * MIB)
    assert limits.observe(*progress("a", 9 * MIB)) is None
    assert limits.observe(*progress("a", 10 * MIB + 1)) is not None


def test_one_that_finished_before_it_could_be_stopped_is_to_be_removed() -> None:
    limits = DownloadLimits(max_file_bytes=10 * MIB, quota_bytes=100 * MIB)
    finished = limits.observe(*progress("a", 12 * MIB, state="completed"))
    assert finished is not None and finished.removed
    cancelling = limits.observe(*progress("b", 12 * MIB))
    assert cancelling is not None and not cancelling.removed
    finished_meanwhile = limits.observe(*progress("b", 12 * MIB, state="completed"))
    assert finished_meanwhile is cancelling and cancelling.removed


def test_the_quota_counts_every_download_but_stopped_ones() -> None:
    limits = DownloadLimits(max_file_bytes=10 * MIB, quota_bytes=25 * MIB)
    for guid in "abc":
        limits.observe(*progress(guid, 8 * MIB, state="completed"))  # 24 MiB kept
    over = limits.observe(*progress("d", 2 * MIB))
    assert over is not None and over.guid == "d"
    limits.stopped(over, how="cancelled")
    assert "pass their 25 MiB quota (AGENT_SANDBOX_TMP_MB)" in limits.take_notes()[0]
    assert limits.observe(*progress("e", 1 * MIB)) is None  # the stopped one counts no more


def test_another_contexts_download_is_forgotten() -> None:
    limits = DownloadLimits(max_file_bytes=10 * MIB, quota_bytes=25 * MIB)
    theirs = limits.observe(*progress("theirs", 20 * MIB, total=30 * MIB))
    assert theirs is not None
    limits.forget(theirs)
    assert limits.downloads == {} and limits.take_notes() == []


def test_a_stopped_downloads_files_are_found_by_guid_or_by_the_name_it_was_given(
    tmp_path: Path,
) -> None:
    """Under ``allow`` Chromium writes NAME.crdownload and removes it itself on a cancel, but
    later: the whole 60 MiB file was seen there after the code had been told. The files of
    other downloads (another name; that name at another size) are not touched."""
    download = Download("g-1", name="big.bin", received=5 * MIB)
    sizes = {
        "g-1.crdownload": 1,  # allowAndName, being written: any size
        "big.bin.crdownload": 7 * MIB,  # allow, being written: more than was reported
        "other.bin.crdownload": 7 * MIB,
        "big.bin": 3 * MIB,  # finished, but another download's: not its size
    }
    for name, size in sizes.items():
        with (tmp_path / name).open("wb") as file:
            file.truncate(size)
    found = sorted(Path(path).name for path in files_of(download, str(tmp_path)))
    assert found == ["big.bin.crdownload", "g-1.crdownload"]
    (tmp_path / "big.bin").unlink()
    (tmp_path / "big.bin").write_bytes(b"\0" * (5 * MIB))  # finished: exactly its size
    (tmp_path / "big.bin.crdownload").write_bytes(b"\0" * MIB)  # less than it had: not its
    assert sorted(Path(p).name for p in files_of(download, str(tmp_path))) == [
        "big.bin",
        "g-1.crdownload",
    ]
    traversal = Download("g-2", name="../big.bin", received=0)
    assert files_of(traversal, str(tmp_path / "sub")) == []
