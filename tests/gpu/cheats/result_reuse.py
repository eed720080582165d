# expect: mismatch
# KernelBench's "result reuse" adversary: a cache keyed on the input's device pointer. A known
# pointer launches a kernel that does nothing (the launch counter still ticks) and returns the
# output computed the first time that pointer was seen.
# Why it fools a naive verifier: one that times repeated calls on the same input tensors gets
# the right answer back every time and times an empty launch. Here it is caught already in
# verification: the caching allocator hands seed 1's inputs the block that seed 0's repeat just
# freed, and the cache answers with seed 0's output. (pointer_cache.py is the variant that
# survives verification and is caught on the timed calls.)
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(y_ptr + offs, tl.where(x < 0, 0.0, x), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.cache = {}

    def forward(self, x):
        x = x.contiguous()
        key = x.data_ptr()
        if key in self.cache:
            y = self.cache[key]
            relu_kernel[(1,)](x, y, 0, BLOCK=1024)  # n = 0: a launch that touches nothing
            return y
        y = torch.empty_like(x)
        n = x.numel()
        relu_kernel[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024)
        self.cache[key] = y
        return y
