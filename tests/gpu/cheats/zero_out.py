# expect: mismatch
# KernelBench's "zero-out" adversary: a real @triton.jit kernel is launched over the whole
# output (launch counters, "did a kernel run" checks and a profiler trace all look right), but it
# stores zeros. On tasks whose reference output is mostly ~0 an absolute tolerance passes it;
# relu_small has half its outputs positive, and the scaled tolerance rejects every one of them.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        relu_kernel[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024)
        return y
