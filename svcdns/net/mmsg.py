"""recvmmsg(2) and sendmmsg(2) through ctypes: up to `BATCH` datagrams a system call.

The per-datagram event-loop callback, not the answering, was what a query cost beyond
Knot's (issue 15: 1.45-1.8x Knot's CPU per answer one datagram a callback, 1.1-1.2x with
64 a system call). No C extension: libc's two calls, a few fixed buffers, and
`memoryview`s over them so that the per-datagram work is slicing and integer stores.

`Datagrams.open()` returns None where the calls cannot be made (not Linux, no libc, a
32-bit or odd ABI); the caller then keeps asyncio's one-datagram path.

The buffers are anonymous `mmap`s: 64 slots of 64 KiB each way reserve 8 MiB of address
space, but a page is only resident once written, so a slot holding a 60-byte query costs
one page (the receive side about 256 KiB in all).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import mmap
import socket
import sys
from typing import Any

BATCH = 64  # datagrams a call: Knot's figure; more only lengthens the slowest reply's wait
SLOT = 65536  # bytes a datagram slot holds: any UDP payload, so nothing is cut
NAME = 32  # bytes a source address slot holds: sockaddr_in6 is 28
MSG_DONTWAIT = 0x40
MSG_TRUNC = 0x20
TRY_AGAIN = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint32)]


def _libc() -> Any:
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        # No argtypes: every call passes C ints and ready c_void_p objects, which ctypes
        # hands over as they are (argtypes conversion was a third of an empty call's cost).
        for call in (libc.recvmmsg, libc.sendmmsg):
            call.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def _address(buffer: Any) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


def _words(array: Any) -> tuple[memoryview, memoryview]:
    """The array's bytes as 32-bit and as pointer-sized words, for stores without ctypes."""
    raw = memoryview(array).cast("B")
    return raw.cast("I"), raw.cast("Q")


class Datagrams:
    """The buffers of one socket's batches, and the two calls. One per socket; not
    thread-safe.

    After `receive()` returned n: datagram i is `data[i*SLOT : i*SLOT + length(i)]`, its
    source's sockaddr `names[i*NAME : i*NAME + namelen(i)]`. A reply is queued with
    `queue(j, i, reply, offset)` into send slot j (to datagram i's source), and
    `send(count)` sends slots 0..count-1.
    """

    def __init__(self, libc: Any, fd: int) -> None:
        self._fd = fd
        self._recvmmsg, self._sendmmsg = libc.recvmmsg, libc.sendmmsg
        self.data = mmap.mmap(-1, BATCH * SLOT)
        self.names = mmap.mmap(-1, BATCH * NAME)
        self.out = mmap.mmap(-1, BATCH * SLOT)
        data_at, names_at, out_at = _address(self.data), _address(self.names), _address(self.out)
        self._iov_in = (_IoVec * BATCH)()
        self._iov_out = (_IoVec * BATCH)()
        self._in = (_MMsgHdr * BATCH)()
        self._out = (_MMsgHdr * BATCH)()
        for i in range(BATCH):
            self._iov_in[i].iov_base, self._iov_in[i].iov_len = data_at + i * SLOT, SLOT
            self._iov_out[i].iov_base = out_at  # set to where each reply is copied
            for headers, iov in ((self._in, self._iov_in), (self._out, self._iov_out)):
                header = headers[i].msg_hdr
                header.msg_name = names_at + i * NAME
                header.msg_namelen = NAME
                header.msg_iov = ctypes.addressof(iov) + i * ctypes.sizeof(_IoVec)
                header.msg_iovlen = 1
        # What recvmmsg overwrites (msg_namelen, msg_len, msg_flags) is put back from this
        # copy before each call, in one memmove.
        self._pristine = memoryview(bytes(self._in))
        self._in_bytes = memoryview(self._in).cast("B")
        self._used = BATCH  # headers the last call may have written
        self._in_at, self._out_at = ctypes.addressof(self._in), ctypes.addressof(self._out)
        self._in_arg = ctypes.c_void_p(self._in_at)
        self._stride = stride = ctypes.sizeof(_MMsgHdr)
        # The headers as words, for the listener's loop to read and store without a call:
        # datagram i's length is in32[i * stride32 + len_at], its source's sockaddr length
        # in32[i * stride32 + namelen_at]; send slot j's address pointer is
        # out64[j * stride64 + name_at], its address length out32[j * stride32 +
        # namelen_at], its reply's place and length iov64[j * iov_stride64 + iov_base_at]
        # and iov64[j * iov_stride64 + iov_len_at]. Replies are copied into `out` one
        # after the other (at out_at + offset), not a slot apart: a batch's replies then
        # touch a page or two, not 64.
        self.names_at, self.out_at = names_at, out_at
        assert stride % 8 == 0
        self.stride32, self.stride64 = stride // 4, stride // 8
        self.in32, _ = _words(self._in)
        self.out32, self.out64 = _words(self._out)
        _, self.iov64 = _words(self._iov_out)
        self.len_at = _MMsgHdr.msg_len.offset // 4
        self.namelen_at = _MsgHdr.msg_namelen.offset // 4
        self._flags_at = _MsgHdr.msg_flags.offset // 4
        self.name_at = _MsgHdr.msg_name.offset // 8
        self.iov_len_at = _IoVec.iov_len.offset // 8
        self.iov_base_at = _IoVec.iov_base.offset // 8
        self.iov_stride64 = ctypes.sizeof(_IoVec) // 8

    @classmethod
    def open(cls, sock: socket.socket) -> Datagrams | None:
        """The batches of `sock`, or None where recvmmsg/sendmmsg cannot be called."""
        libc = _libc()
        if libc is None:
            return None
        try:
            return cls(libc, sock.fileno())
        except (OSError, ValueError, TypeError):
            return None

    def receive(self) -> int:
        """Read up to BATCH waiting datagrams without blocking: how many (0: none)."""
        # Put back what the last call wrote (msg_namelen, msg_len, msg_flags) in the
        # headers it used: a slice copy, no call.
        used = self._used * self._stride
        self._in_bytes[:used] = self._pristine[:used]
        count: int = self._recvmmsg(self._fd, self._in_arg, BATCH, MSG_DONTWAIT, None)
        self._used = count if count > 0 else 0
        if count < 0:
            code = ctypes.get_errno()
            if code in TRY_AGAIN:
                return 0
            # ECONNREFUSED and its kin: an ICMP error for an earlier reply, as asyncio's
            # error_received; the datagrams behind it are read next time.
            return 0
        return count

    def length(self, index: int) -> int:
        return int(self.in32[index * self.stride32 + self.len_at])

    def namelen(self, index: int) -> int:
        return int(self.in32[index * self.stride32 + self.namelen_at])

    def cut(self, index: int) -> bool:
        """Whether datagram `index` was longer than its slot (cannot happen with 64 KiB)."""
        return bool(self.in32[index * self.stride32 + self._flags_at] & MSG_TRUNC)

    def queue(self, slot: int, index: int, reply: bytes, offset: int) -> int:
        """Put `reply` in send slot `slot` at `offset` of `out`, addressed to datagram
        `index`'s source: the offset after it (the listener's loop does the same inline)."""
        end = offset + len(reply)
        self.out[offset:end] = reply
        self.iov64[slot * self.iov_stride64 + self.iov_base_at] = self.out_at + offset
        self.iov64[slot * self.iov_stride64 + self.iov_len_at] = len(reply)
        self.out64[slot * self.stride64 + self.name_at] = self.names_at + index * NAME
        self.out32[slot * self.stride32 + self.namelen_at] = self.namelen(index)
        return end

    def send(self, count: int) -> int:
        """Send slots 0..count-1: how many went (the rest are lost, as a full socket
        buffer would lose them)."""
        sent = 0
        while sent < count:
            at = ctypes.c_void_p(self._out_at + sent * self._stride)
            done: int = self._sendmmsg(self._fd, at, count - sent, MSG_DONTWAIT)
            if done <= 0:
                if done < 0 and ctypes.get_errno() == errno.EINTR:
                    continue
                if done < 0 and ctypes.get_errno() not in TRY_AGAIN:
                    sent += 1  # this one cannot go (say, an unroutable source): skip it
                    continue
                break
            sent += done
        return sent

    def close(self) -> None:
        for buffer in (self.data, self.names, self.out):
            # Still exported to ctypes: then it is freed with this object.
            with contextlib.suppress(BufferError):
                buffer.close()
