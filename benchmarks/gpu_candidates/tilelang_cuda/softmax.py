import tilelang
import tilelang.language as T
import torch.nn as nn


def build_softmax(M, N, block_M=1, threads=256, dtype="float32"):
    @T.prim_func
    def softmax(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        # One row per block: the row is copied once into registers (a fragment spread over the
        # 256 threads: 16 floats each for N = 4096), reduced twice and written once.
        with T.Kernel(T.ceildiv(M, block_M), threads=threads) as bx:
            row = T.alloc_fragment((block_M, N), dtype)
            row_max = T.alloc_fragment((block_M,), dtype)
            row_sum = T.alloc_fragment((block_M,), dtype)
            T.copy(X[bx * block_M, 0], row)
            T.reduce_max(row, row_max, dim=1)
            for i, j in T.Parallel(block_M, N):
                row[i, j] = T.exp(row[i, j] - row_max[i])
            T.reduce_sum(row, row_sum, dim=1)
            for i, j in T.Parallel(block_M, N):
                row[i, j] = row[i, j] / row_sum[i]
            T.copy(row, Y[bx * block_M, 0])

    return tilelang.compile(softmax, out_idx=[1])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self._kernels = {}

    def forward(self, x):
        x2 = x.contiguous().view(-1, x.shape[-1])
        key = tuple(x2.shape)
        if key not in self._kernels:
            self._kernels[key] = build_softmax(*key)
        return self._kernels[key](x2).view(x.shape)
