import tilelang
import tilelang.language as T
import torch.nn as nn


def build_matmul(M, N, K, block_M=128, block_N=256, block_K=64, stages=3, dtype="float16", accum="float32"):
    @T.prim_func
    def gemm(A: T.Tensor((M, K), dtype), B: T.Tensor((K, N), dtype), C: T.Tensor((M, N), dtype)):
        # One block of 256 threads (two warpgroups) per 128x256 tile of C. A and B tiles are
        # staged in shared memory; T.Pipelined overlaps the copy of tile k+1.. with the tensor-core
        # product of tile k (stages=3: three buffers in flight); accumulation stays in fp32 registers.
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=256) as (bx, by):
            A_shared = T.alloc_shared((block_M, block_K), dtype)
            B_shared = T.alloc_shared((block_K, block_N), dtype)
            C_local = T.alloc_fragment((block_M, block_N), accum)
            T.clear(C_local)
            for ko in T.Pipelined(T.ceildiv(K, block_K), num_stages=stages):
                T.copy(A[by * block_M, ko * block_K], A_shared)
                T.copy(B[ko * block_K, bx * block_N], B_shared)
                T.gemm(A_shared, B_shared, C_local)
            T.copy(C_local, C[by * block_M, bx * block_N])

    return tilelang.compile(gemm, out_idx=[2])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self._kernels = {}

    def forward(self, a, b):
        a = a.contiguous()
        b = b.contiguous()
        key = (a.shape[0], b.shape[1], a.shape[1])
        if key not in self._kernels:
            self._kernels[key] = build_matmul(*key)
        return self._kernels[key](a, b)
