# expect: mismatch
# KernelBench's other "zero-out" form: the kernel is launched and reads its input, but every
# store is masked off, so the output is whatever torch.empty handed back. When the reference ran
# earlier in the same process, the caching allocator could hand back the block of the
# reference's freed output, which already holds the right answer (the trick behind a published
# 100x "speedup"). Here the reference lives in the referee process and the guard fills fresh
# allocations with NaN, so the unwritten output is a mismatch on the first seed.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(y_ptr + offs, tl.where(x < 0, 0.0, x), mask=offs < 0)  # the mask is never true


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        relu_kernel[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024)
        return y
