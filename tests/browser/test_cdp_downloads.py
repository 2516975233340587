"""The download limits, event by event: which download is stopped, when, and what the code is
told (the end-to-end rows are in ``tests/reliability/test_reliability_downloads.py``)."""

from __future__ import annotations

from typing import Any

from agent.browser.cdp_downloads import DownloadLimits

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
