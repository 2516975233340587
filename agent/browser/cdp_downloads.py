"""A session's downloads, bounded: no file larger than the limit, no more in all than the quota.

Chromium writes downloads itself, outside the code sandbox and its file-size limit, so the
router enforces the limits from what the browser reports. Chromium tells every DevTools session
that asked for download events (our own Playwright connection always does; a client's
``Browser.setDownloadBehavior`` is made to, ``agent.browser.cdp_guard``) about every download:
``downloadWillBegin`` (its name and URL), then ``downloadProgress`` (bytes so far, the total
when the server sent one, and the end: completed or canceled). The router shows each event to
:class:`DownloadLimits`, which says when a download must be cancelled
(``Browser.cancelDownload``):

* **one file**: as soon as its announced total or its bytes so far pass ``max_file_bytes``;
* **the quota**: as soon as the bytes of all the session's downloads, finished ones included,
  would pass ``quota_bytes``; a cancelled download no longer counts.

A cancelled download's partial file (Chromium removes it too, but only some time after the
download is reported cancelled), and the file of a download that finished before the event that
shows it too large came (the browser reports progress about twice a second, and a local server
can send a large file faster), are removed from the folders downloads were sent to, which the
router records from every ``setDownloadBehavior`` it routes (``files_of``). Each cancelled or
removed download leaves a note, for the session's code to be told on its next call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DOWNLOAD_EVENTS", "Download", "DownloadLimits", "files_of"]

DOWNLOAD_EVENTS = frozenset(
    {"Browser.downloadWillBegin", "Browser.downloadProgress",
     "Page.downloadWillBegin", "Page.downloadProgress"}
)  # fmt: skip
_MIB = 1024 * 1024


@dataclass
class Download:
    """What the browser has said about one download."""

    guid: str
    name: str = ""
    url: str = ""
    received: int = 0
    total: int = 0
    state: str = "inProgress"
    stopped: bool = False
    """Cancelled or removed by the limits (counted no more)."""
    removed: bool = False
    """Its file is to be removed: it finished before it could be cancelled."""


@dataclass
class DownloadLimits:
    """The limits of one session's downloads (see the module docstring)."""

    max_file_bytes: int
    quota_bytes: int
    downloads: dict[str, Download] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def observe(self, method: str, params: dict[str, Any]) -> Download | None:
        """Take in one download event; the download to stop now, if any: to cancel, or, when
        it has finished (``removed``), whose file to remove."""
        guid = params.get("guid")
        if method not in DOWNLOAD_EVENTS or not isinstance(guid, str):
            return None
        download = self.downloads.setdefault(guid, Download(guid))
        if method.endswith("WillBegin"):
            download.name = str(params.get("suggestedFilename") or download.name)
            download.url = str(params.get("url") or download.url)[:200]
            return None
        download.received = max(download.received, _int(params.get("receivedBytes")))
        download.total = max(download.total, _int(params.get("totalBytes")))
        if download.state == "inProgress":
            download.state = str(params.get("state") or "inProgress")
        if download.stopped:
            if download.state == "completed" and not download.removed:
                download.removed = True  # finished while it was being cancelled
                return download
            return None
        if download.state == "canceled":
            return None
        if self._too_large(download) or self._past_quota():
            download.stopped = True
            download.removed = download.state == "completed"
            return download
        return None

    def _too_large(self, download: Download) -> bool:
        return max(download.received, download.total) > self.max_file_bytes

    def _past_quota(self) -> bool:
        counted = [d for d in self.downloads.values() if not d.stopped and d.state != "canceled"]
        return sum(max(d.received, d.total) for d in counted) > self.quota_bytes

    def stopped(self, download: Download, *, how: str) -> None:
        """Note that ``download`` was stopped (``how``: cancelled, removed), for the code."""
        size = max(download.received, download.total)
        if size > self.max_file_bytes:
            why = (
                f"it is larger than the {self.max_file_bytes // _MIB} MiB a download may be "
                "(AGENT_SANDBOX_FILE_SIZE_MB)"
            )
        else:
            why = (
                f"the session's downloads would pass their {self.quota_bytes // _MIB} MiB quota "
                "(AGENT_SANDBOX_TMP_MB)"
            )
        name = download.name or download.guid
        self.notes.append(
            f"The browser's download of {name!r} ({download.url or 'no URL'}) was {how} at "
            f"{size / _MIB:.1f} MiB: {why}."
        )

    def forget(self, download: Download) -> None:
        """``download`` was not this session's (another context's, on a shared browser)."""
        self.downloads.pop(download.guid, None)

    def take_notes(self) -> list[str]:
        """The notes since the last call (each told once)."""
        notes, self.notes = self.notes, []
        return notes


def files_of(download: Download, folder: str) -> list[str]:
    """The files in ``folder`` that are ``download``'s, to remove once it is stopped.

    Named by its guid (``allowAndName``; ``.crdownload`` added while it is written), whatever
    their size. Under ``allow``, named by the file name it was given: ``NAME.crdownload`` while it
    is written, when it holds at least the bytes the browser reported (Chromium removes that file
    itself when the download is cancelled, but later: a cancelled download's whole file was
    still there once its code had been told); ``NAME`` once finished, when it is exactly that
    download's size (a file of that name may be another download's).
    """
    wanted: list[tuple[str, Callable[[int], bool]]] = [
        (download.guid, lambda size: True),
        (download.guid + ".crdownload", lambda size: True),
    ]
    name = download.name
    if name and os.path.basename(name) == name and name not in (".", ".."):
        wanted += [
            (name + ".crdownload", lambda size: size >= download.received),
            (name, lambda size: size == download.received),
        ]
    paths = [(os.path.join(folder, file), fits) for file, fits in wanted]
    return [path for path, fits in paths if (size := _size(path)) >= 0 and fits(size)]


def _size(path: str) -> int:
    """The size of the file at ``path``; -1 when there is none."""
    try:
        return os.stat(path).st_size if os.path.isfile(path) else -1
    except OSError:
        return -1


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
