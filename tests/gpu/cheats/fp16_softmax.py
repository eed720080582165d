# expect: mismatch
# task: softmax_wide.py
# An fp32 softmax computed in half precision: each row is cast to tl.float16 as it is loaded,
# the max and the row sum are taken in fp16 (tl.sum does not widen fp16), exp runs on the
# fp16 values (tl.exp only takes fp32, so it is widened for the call and cast straight back)
# and the result is stored from fp16. Twice the math throughput and no fp32 registers; every
# output is ~1/4096, so an absolute tolerance of 1e-4 (or even 1e-5) passes it. Scaled to the
# output's magnitude, the fp32 tolerance does not.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def softmax_fp16_kernel(x_ptr, y_ptr, cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < cols
    x = tl.load(x_ptr + row * cols + offs, mask=mask, other=-float("inf")).to(tl.float16)
    x = x - tl.max(x, axis=0)
    e = tl.exp(x.to(tl.float32)).to(tl.float16)
    e = tl.where(mask, e, 0.0).to(tl.float16)
    total = tl.sum(e, axis=0)
    tl.store(y_ptr + row * cols + offs, (e / total).to(tl.float32), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        rows, cols = x.shape
        softmax_fp16_kernel[(rows,)](x, y, cols, BLOCK=triton.next_power_of_2(cols), num_warps=8)
        return y
