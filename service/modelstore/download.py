"""Resumable, checksummed downloads: bytes go to `<dest>.part`, and only a verified file is renamed into place."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from service.errors import ServiceError
from service.modelstore.manifest import file_sha256

CHUNK = 1 << 20


class DownloadError(ServiceError, RuntimeError):
    """The download failed or its checksum did not match."""

    status, code = 502, "download_failed"


def download(
    url: str,
    dest: Path,
    sha256: str | None = None,
    timeout: float = 30.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Fetch url into dest, resuming a previous partial download; verify sha256 when given."""
    if dest.is_file() and (sha256 is None or file_sha256(dest) == sha256):
        return dest
    partial = dest.with_name(dest.name + ".part")
    offset = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if offset and response.status != 206:
                offset = 0  # the server ignored the range: start again
            total = _total_size(response, offset)
            with open(partial, "ab" if offset else "wb") as out:
                done = offset
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(f"could not download {url}: {getattr(error, 'reason', error)}") from error
    if sha256 is not None:
        actual = file_sha256(partial)
        if actual != sha256:
            partial.unlink()
            raise DownloadError(f"checksum mismatch for {url}: expected {sha256}, got {actual}")
    os.replace(partial, dest)
    return dest


def _total_size(response, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None
