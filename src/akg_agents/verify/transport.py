"""How a candidate's output tensor reaches the referee without a copy through files or the host.

- CUDA: the candidate shares the output's device memory through a CUDA IPC handle (what
  torch.multiprocessing does); the referee maps it and compares on the device.
- CPU: the referee creates one shared-memory slot file per output; the candidate copies its output
  into the mapped slot and the referee maps the same pages.

Descriptors are plain JSON (bytes as base64), never pickles: the referee must not execute anything
the candidate's process sends it.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import torch

DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.uint8, torch.int16,
    torch.int32, torch.int64, torch.bool, torch.complex64,
)}


class TransportError(Exception):
    pass


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


def _unb64(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TransportError("malformed descriptor")
    return base64.b64decode(value)


def dtype_named(name: Any) -> torch.dtype:
    if name not in DTYPES:
        raise TransportError(f"unsupported output dtype {name!r}")
    return DTYPES[name]


def describe_cuda(tensor: torch.Tensor) -> dict[str, Any]:
    """Candidate side: an IPC descriptor of a (contiguous) CUDA tensor; keep the tensor alive until
    the referee has answered."""
    from torch.multiprocessing.reductions import reduce_tensor

    _, args = reduce_tensor(tensor)
    (_, size, stride, offset, _, dtype, device, handle, size_bytes, offset_bytes, _, rc_handle, rc_offset,
     event_handle, event_sync) = args
    return {
        "kind": "cuda", "shape": list(size), "stride": list(stride), "offset": int(offset),
        "dtype": str(dtype).removeprefix("torch."), "device": int(device), "handle": _b64(handle),
        "size_bytes": int(size_bytes), "offset_bytes": int(offset_bytes), "rc_handle": _b64(rc_handle),
        "rc_offset": int(rc_offset), "event": _b64(event_handle), "event_sync": bool(event_sync),
    }


def _ints(values: Any) -> list[int]:
    if not isinstance(values, list) or not all(type(v) is int for v in values):
        raise TransportError("malformed descriptor")
    return values


def open_cuda(desc: dict[str, Any]) -> torch.Tensor:
    """Referee side: map the candidate's device memory (no copy)."""
    from torch.multiprocessing.reductions import rebuild_cuda_tensor

    shape, stride = _ints(desc.get("shape")), _ints(desc.get("stride"))
    ints = [desc.get(k) for k in ("offset", "device", "size_bytes", "offset_bytes", "rc_offset")]
    if not all(type(v) is int for v in ints):
        raise TransportError("malformed descriptor")
    handle = _unb64(desc.get("handle"))
    numel = 1
    for size in shape:
        numel *= size
    if handle is None or ints[2] == 0:
        # Never allocate with a shape the candidate sent: fresh referee memory may hold the
        # reference itself. Only an empty output needs no memory.
        if numel != 0:
            raise TransportError("a descriptor without memory for a non-empty output")
        return torch.empty(shape, dtype=dtype_named(desc.get("dtype")), device="cuda")
    return rebuild_cuda_tensor(  # type: ignore[no-any-return]
        torch.Tensor, torch.Size(shape), tuple(stride), ints[0], torch.UntypedStorage, dtype_named(desc.get("dtype")),
        ints[1], handle, ints[2], ints[3], False, _unb64(desc.get("rc_handle")), ints[4],
        _unb64(desc.get("event")), bool(desc.get("event_sync")),
    )


def slot_numel_fits(path: str, numel: int, dtype: torch.dtype) -> bool:
    return numel * torch.empty((), dtype=dtype).element_size() <= os.path.getsize(path)


_MAPPED: dict[tuple[str, torch.dtype], torch.Tensor] = {}


def mapped_slot(path: str, dtype: torch.dtype) -> torch.Tensor:
    """The whole slot file as a flat tensor, mapped once per process (a fresh mapping would
    page-fault on every touch of every call)."""
    key = (path, dtype)
    if key not in _MAPPED:
        numel = os.path.getsize(path) // torch.empty((), dtype=dtype).element_size()
        _MAPPED[key] = torch.from_file(path, shared=True, size=max(numel, 1), dtype=dtype)
    return _MAPPED[key]


def forget_slots() -> None:
    _MAPPED.clear()


def write_slot(path: str, tensor: torch.Tensor) -> dict[str, Any]:
    """Candidate side (CPU): copy the output into the referee's slot; returns its descriptor."""
    desc: dict[str, Any] = {"kind": "slot", "shape": list(tensor.shape), "dtype": str(tensor.dtype).removeprefix("torch.")}
    if tensor.numel() and slot_numel_fits(path, tensor.numel(), tensor.dtype):
        mapped_slot(path, tensor.dtype)[: tensor.numel()].copy_(tensor.reshape(-1))
        desc["written"] = True
    return desc


def open_slot(path: str, desc: dict[str, Any]) -> torch.Tensor | None:
    """Referee side (CPU): the slot's pages as a tensor; None when the candidate wrote nothing."""
    shape = _ints(desc.get("shape"))
    dtype = dtype_named(desc.get("dtype"))
    numel = 1
    for size in shape:
        numel *= size
    if numel == 0:
        return torch.empty(shape, dtype=dtype)
    if not desc.get("written") or not slot_numel_fits(path, numel, dtype):
        return None
    return mapped_slot(path, dtype)[:numel].view(shape)
