# expect: rejected output-aliases-input
# task: relu_rand.py
# A Triton kernel that writes relu(x) into x itself, and forward returns x: no output allocation
# and half the memory traffic. relu_rand's inputs come from torch.rand (all >= 0), so relu(x) == x
# and the in-place write changes no value: "inputs unchanged" (by value) and the output values
# both pass. Only the aliasing check (output memory overlaps an input; the reference's does not)
# rejects it.
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_inplace_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(x_ptr + offs, tl.where(x < 0, 0.0, x), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        n = x.numel()
        relu_inplace_kernel[(triton.cdiv(n, 1024),)](x, n, BLOCK=1024)
        return x
