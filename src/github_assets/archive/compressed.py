"""Streaming decompression, and a reader that puts back the bytes read to sniff the content."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from typing import IO, TYPE_CHECKING

from .sniff import Kind
from .staging import CHUNK, Reader

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


def open_decompressed(kind: Kind, file: IO[bytes]) -> io.BufferedIOBase:
    """A reader of the decompressed bytes of file; constant memory whatever the size."""
    if kind is Kind.GZIP:
        return gzip.GzipFile(fileobj=file, mode="rb")
    if kind is Kind.XZ:
        return lzma.LZMAFile(file)
    if kind is Kind.BZIP2:
        return bz2.BZ2File(file)
    raise ValueError(f"{kind.value} is not a compression format")


def read_head(stream: Reader, size: int) -> bytes:
    """The first size bytes of stream (fewer only at its end)."""
    head = b""
    while len(head) < size:
        chunk = stream.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return head


def prefixed(head: bytes, rest: Reader) -> io.BufferedReader:
    """One stream of head followed by what is left in rest."""
    return io.BufferedReader(_Prefixed(head, rest), buffer_size=CHUNK)


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, rest: Reader) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            data, self._head = self._head[: len(view)], self._head[len(view) :]
        else:
            data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)
