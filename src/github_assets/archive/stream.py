"""Unpacking while the download streams in: the sink a download writes into.

The downloader reads the network straight into the buffers a StreamUnpack hands out and
commits them; the first bytes tell the kind (magic bytes, never the name):

- tar, or gzip/xz/bzip2 holding a tar or a lone file: a helper thread decompresses and
  unpacks through Staging while the bytes arrive. The two threads share a small pool of
  buffers, so memory stays constant and a slow disk slows the download, never the reverse.
  Decompression (zlib, lzma, bz2) and hashing release the GIL, so both cores work.
- raw: the bytes are written once, straight to the file's place under dest.
- zip: spooled to a file and unpacked by finish(). A zip cannot be unpacked from a stream:
  its member list (sizes, modes, symlink flags) is the central directory at its very end,
  and the local headers before each member may lie about sizes (data descriptors), so
  members are read by the offsets the directory gives, which needs the whole file.

dest is a staging dir inside the work dir; nothing here reaches the layer. The caller calls
finish() only after the download verified size and checksum, and throws dest away on any
failure. An unpack failure while streaming does not stop the download: the rest is still
hashed, so that a checksum mismatch (the bytes are not the asset) is reported before an
archive error, exactly as when the asset was downloaded first and unpacked after.
"""

from __future__ import annotations

import errno
import queue
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..errors import ArchiveError, BuildpackError
from .limits import Limits, Unpacked
from .sniff import HEAD_SIZE, Kind, is_tar, sniff
from .staging import CHUNK, RawFile, Staging

# Buffers of one pipeline: one being filled by the download, one being unpacked, one
# queued between them. More only helps with a bursty disk, and costs RSS per parallel asset.
POOL = 3

if TYPE_CHECKING:
    import bz2
    import lzma

    _Decompressor = zlib._Decompress | lzma.LZMADecompressor | bz2.BZ2Decompressor


class _Abort(Exception):
    """The pipeline is being torn down (restart, cancel, failure elsewhere)."""


_EOF = "eof"
_ABORT = "abort"


def damaged(kind: str, err: BaseException) -> ArchiveError:
    """The error for a malformed archive, with the stdlib's cause on one line."""
    what = "raw file" if kind == "raw" else f"{kind} archive"
    cause = " ".join(str(err).split()) or type(err).__name__
    error = ArchiveError(f"failed to unpack {what}: {cause}")
    error.__cause__ = err
    return error


def failure(kind: str, err: BaseException) -> BaseException:
    """What a reader's exception means: the OS failing us (kept as is), or a damaged archive.

    gzip's and bz2's complaints about their input are OSErrors too, but without an errno,
    and a corrupt zip directory makes zipfile seek before the start of the spool file
    (EINVAL): only the errors a disk or filesystem gives are the OS's.
    """
    if isinstance(err, OSError) and errno.errorcode.get(err.errno or 0) in _ENVIRONMENT:
        return err
    return damaged(kind, err)


_ENVIRONMENT = frozenset(
    {"ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EIO", "ENAMETOOLONG", "ENOTDIR",
     "EISDIR", "EMFILE", "ENFILE", "ENOMEM", "EFBIG", "ELOOP"}
)  # fmt: skip


def damaged_input() -> tuple[type[BaseException], ...]:
    """What the stdlib readers raise on damaged input (gzip and bz2 errors are OSErrors;
    tarfile lets ValueError and IndexError out of corrupt sparse headers, zipfile
    UnicodeDecodeError out of names flagged UTF-8 that are not).

    A function, so that only an archive imports tarfile, zipfile and lzma: a raw asset
    (most probes) never needs them.
    """
    import lzma
    import tarfile
    import zipfile

    return (
        OSError,
        EOFError,
        tarfile.TarError,
        zipfile.BadZipFile,
        lzma.LZMAError,
        zlib.error,
        NotImplementedError,
        ValueError,
        IndexError,
        struct.error,
    )


class StreamUnpack:
    """The sink of one asset's download: unpacks into dest (an empty dir) as bytes arrive.

    Protocol, driven by the downloader: buffer() gives a writable CHUNK-sized view, commit(n)
    says its first n bytes are the next part of the asset, restart() throws away everything
    (the download starts over), close() tears down (always call it). After the download
    verified the bytes, finish() completes the unpack and says what was written.
    """

    def __init__(
        self,
        dest: Path,
        *,
        strip_components: int,
        raw_path: str,
        limits: Limits,
        spool: Path | None = None,
        select: Callable[[str], bool] | None = None,
    ) -> None:
        self._dest = dest
        self._select = select
        self._strip = strip_components
        self._raw_path = raw_path
        self._limits = limits
        self._spool = spool
        # Sniffing, raw and zip writes, and bytes after a failure all go through this one.
        self._scratch = memoryview(bytearray(CHUNK))
        self._reset()

    def _reset(self) -> None:
        self._staging = Staging(
            self._dest,
            strip_components=self._strip,
            limits=self._limits,
            select=self._select,
        )
        self._head = b""
        self._kind: Kind | None = None
        self._raw: RawFile | None = None
        self._zip: BinaryIO | None = None
        self._pipe: _Pipe | None = None
        self._error: BuildpackError | None = None

    def buffer(self) -> memoryview:
        if self._pipe is not None:
            return self._pipe.buffer()
        return self._scratch

    def commit(self, n: int) -> None:
        if self._pipe is not None:
            self._pipe.commit(n)
            return
        data = self._scratch[:n]
        if self._error is not None:
            return
        if self._kind is None:
            self._head += data
            if len(self._head) >= HEAD_SIZE:
                head, self._head = self._head, b""
                self._start(head)
            return
        self._write(data)

    def _start(self, head: bytes) -> None:
        kind = self._kind = sniff(head[:HEAD_SIZE])
        if kind is Kind.ZIP:
            if self._spool is None:
                raise ValueError("a zip needs a spool file")
            self._zip = self._spool.open("wb")
        elif kind is Kind.RAW:
            try:
                self._raw = self._staging.open_raw(self._raw_path)
            except ArchiveError as err:
                self._error = err
                return
        else:
            self._pipe = _Pipe(kind, self._staging, self._raw_path)
            self._pipe.send(head)
            return
        self._write(memoryview(head))

    def _write(self, data: memoryview) -> None:
        if self._zip is not None:
            self._zip.write(data)
        elif self._raw is not None:
            try:
                self._raw.write(data)
            except ArchiveError as err:
                self._error = err
                self._raw.close()

    def restart(self) -> None:
        """Forget every byte: the download starts over from its first byte."""
        import shutil

        self.close()
        shutil.rmtree(self._dest)
        self._dest.mkdir()
        self._reset()

    def finish(self) -> Unpacked:
        """Complete the unpack of the verified bytes; ArchiveError when they are no good."""
        if self._kind is None:
            # Fewer than HEAD_SIZE bytes in all (an empty asset is a raw file too).
            head, self._head = self._head, b""
            self._start(head)
        label = self._kind.value if self._kind else "raw"
        if self._pipe is not None:
            label = self._pipe.finish()
            self._pipe = None
        if self._error is not None:
            raise self._error
        if self._zip is not None:
            self._zip.close()
            self._zip = None
            assert self._spool is not None
            from .zip import unpack_zip

            try:
                with self._spool.open("rb") as file:
                    unpack_zip(file, self._staging)
            except Exception as err:
                if not isinstance(err, damaged_input()):
                    raise
                raise failure("zip", err) from err
            finally:
                self._spool.unlink(missing_ok=True)
        if self._raw is not None:
            self._raw.complete()
            self._raw = None
        return self._staging.finish(label)

    def close(self) -> None:
        """Stop the helper thread and close files; dest keeps what was written."""
        if self._pipe is not None:
            self._pipe.abort()
            self._pipe = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        if self._spool is not None:
            self._spool.unlink(missing_ok=True)


class _Pipe:
    """A helper thread unpacking a tar or a compressed stream from buffers the download fills.

    The download takes a buffer from the pool (buffer), fills it and queues it (commit); the
    thread decompresses and unpacks it, then gives it back. Once the thread stops (done, or
    failed) it only gives buffers back and the download's later bytes are dropped here.
    """

    def __init__(self, kind: Kind, staging: Staging, raw_path: str) -> None:
        self._kind = kind
        self._staging = staging
        self._raw_path = raw_path
        self._queue: queue.SimpleQueue[tuple[memoryview, int] | bytes | str] = queue.SimpleQueue()
        self._free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
        self._made = 0
        self._current: memoryview | None = None
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._label = kind.value
        self._ended = False  # the thread took the end (or abort) marker off the queue
        self._thread = threading.Thread(target=self._run, name=f"unpack-{kind.value}", daemon=True)
        self._thread.start()

    # -- the download's side --------------------------------------------------------------

    def buffer(self) -> memoryview:
        if self._current is None:
            self._current = self._take()
        return self._current

    def _take(self) -> memoryview:
        if self._made < POOL:
            try:
                return self._free.get_nowait()
            except queue.Empty:
                self._made += 1
                return memoryview(bytearray(CHUNK))
        while True:
            try:
                return self._free.get(timeout=1.0)
            except queue.Empty:
                if not self._thread.is_alive():  # never happens; never hang if it does
                    return memoryview(bytearray(CHUNK))

    def commit(self, n: int) -> None:
        if self._stopped.is_set():
            return  # keep the buffer: the thread takes no more bytes
        buf, self._current = self._current, None
        assert buf is not None
        self._queue.put((buf, n))

    def send(self, data: bytes) -> None:
        self._queue.put(data)

    def finish(self) -> str:
        """Wait for the unpack to end (all bytes are in); its label, or its error raised."""
        self._queue.put(_EOF)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._label

    def abort(self) -> None:
        self._queue.put(_ABORT)
        self._thread.join()

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._unpack()
        except _Abort:
            return
        except BuildpackError as err:
            self._error = err
        except BaseException as err:  # damaged input, or a bug of ours (finish() raises it)
            self._error = failure(self._label, err) if isinstance(err, damaged_input()) else err
        finally:
            self._stopped.set()
        # Done before the last byte (a tar ends at its end-of-archive blocks) or failed: give
        # buffers back until the download ends, so that it never waits for one.
        while not self._ended:
            item = self._queue.get()
            if isinstance(item, tuple):
                self._free.put(item[0])
            elif item in (_EOF, _ABORT):
                self._ended = True

    def _chunks(self) -> Iterator[bytes | memoryview]:
        """The asset's bytes as they arrive; a buffer goes back once the next one is asked for."""
        while True:
            item = self._queue.get()
            if isinstance(item, tuple):
                buf, n = item
                try:
                    yield buf[:n]
                finally:
                    self._free.put(buf)
            elif isinstance(item, bytes):
                yield item
            else:
                self._ended = True
                if item == _ABORT:
                    raise _Abort
                return

    def _unpack(self) -> None:
        from .tar import unpack_tar

        if self._kind is Kind.TAR:
            reader = _BlockReader(bytes(c) for c in self._chunks())
            unpack_tar(reader, self._staging)
            return
        stream = _BlockReader(inflate(self._kind, self._chunks()))
        if is_tar(stream.peek(HEAD_SIZE)):
            self._label = f"tar+{self._kind.value}"
            unpack_tar(stream, self._staging)
        else:
            self._staging.write_raw(self._raw_path, stream)


class _BlockReader:
    """A file over an iterator of byte blocks: read front to back, seek only forward.

    read(n) returns n bytes unless the blocks end first. That, tell() and forward seek() is
    all tarfile's normal ("r:") mode asks of a file when members are read in order, and it
    costs fewer copies than stream mode ("r|"), whose buffer is joined and sliced per read.
    """

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._block = b""
        self._pos = 0  # in _block
        self._offset = 0  # of _block[0] in the stream

    def _next(self) -> bool:
        block = next(self._blocks, None)
        if block is None:
            return False
        self._offset += len(self._block)
        self._block, self._pos = block, 0
        return True

    def peek(self, size: int) -> bytes:
        """The next size bytes (fewer only at the end), without consuming them."""
        while len(self._block) - self._pos < size:
            rest = self._block[self._pos :]
            if not self._next():
                break
            self._offset -= len(rest)
            self._block = rest + self._block
        return self._block[self._pos : self._pos + size]

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            parts = [self._block[self._pos :]]
            while self._next():
                parts.append(self._block)
            self._pos = len(self._block)
            return b"".join(parts)
        block, pos = self._block, self._pos
        if pos + size <= len(block):
            self._pos = pos + size
            return block if pos == 0 and size == len(block) else block[pos : pos + size]
        parts = [block[pos:]]
        need = size - len(parts[0])
        while need > 0 and self._next():
            take = min(need, len(self._block))
            parts.append(self._block[:take] if take < len(self._block) else self._block)
            self._pos = take
            need -= take
        if need > 0:
            self._pos = len(self._block)
        return b"".join(parts)

    def tell(self) -> int:
        return self._offset + self._pos

    def seek(self, offset: int, whence: int = 0, /) -> int:
        if whence != 0 or offset < self.tell():
            raise OSError("the archive stream can only be read forward")
        skip = offset - self.tell()
        while skip > len(self._block) - self._pos:
            skip -= len(self._block) - self._pos
            self._pos = len(self._block)
            if not self._next():
                return self.tell()
        self._pos += skip
        return self.tell()


def _pieces(chunks: Iterable[bytes | memoryview]) -> Iterator[memoryview]:
    """chunks cut in 64 KiB views: zlib copies the input it leaves (unconsumed_tail) on every
    call that hits the output limit, so a small input keeps that copy small."""
    for chunk in chunks:
        view = memoryview(chunk)
        for start in range(0, len(view), _ZLIB_INPUT):
            yield view[start : start + _ZLIB_INPUT]


_ZLIB_INPUT = 64 * 1024
_ZLIB = type(zlib.decompressobj())
"""zlib's decompressor type (the lzma and bz2 ones are imported only for those formats)."""


def _new_decompressor(kind: Kind) -> _Decompressor:
    if kind is Kind.GZIP:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if kind is Kind.XZ:
        import lzma

        return lzma.LZMADecompressor()
    if kind is Kind.BZIP2:
        import bz2

        return bz2.BZ2Decompressor()
    raise ValueError(f"{kind.value} is not a compression format")


def inflate(kind: Kind, chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    """The decompressed bytes of chunks, in blocks of at most CHUNK (a bomb stays small here).

    As GzipFile, LZMAFile and BZ2File read: concatenated streams are one; zeros after a gzip
    member are skipped; bytes after an xz or bzip2 stream that do not start another stream
    are ignored; a stream cut short is an EOFError.
    """
    gzip = kind is Kind.GZIP
    d: _Decompressor | None = _new_decompressor(kind)
    # What a fresh xz or bzip2 decompressor raises on bytes that start no stream.
    not_a_stream: tuple[type[Exception], ...] = (OSError,)
    if kind is Kind.XZ:
        import lzma

        not_a_stream = (lzma.LZMAError, OSError)
    later = False  # d decodes a stream after the first one
    fresh = True  # d has not been fed yet
    for chunk in _pieces(chunks) if gzip else chunks:
        data: bytes | memoryview = chunk
        while len(data):
            if d is None:
                if gzip:
                    data = bytes(data).lstrip(b"\0")
                    if not data:
                        break
                d, later, fresh = _new_decompressor(kind), True, True
            try:
                out = d.decompress(data, CHUNK)
            except not_a_stream:
                if later and fresh and not gzip:
                    return  # trailing garbage, as LZMAFile and BZ2File ignore it
                raise
            fresh = False
            if out:
                yield out
            if not isinstance(d, _ZLIB):  # lzma's or bz2's
                data = b""
                # They keep the input they could not decode within CHUNK bytes of output.
                while not d.eof and not d.needs_input and (out := d.decompress(b"", CHUNK)):
                    yield out
            else:
                data = d.unconsumed_tail
                # Output CHUNK long may leave more in zlib's window with no input left.
                while len(out) == CHUNK and not data and not d.eof:
                    out = d.decompress(b"", CHUNK)
                    data = d.unconsumed_tail
                    if out:
                        yield out
            if d.eof:
                data, d = d.unused_data, None
    if d is not None and not d.eof:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")
