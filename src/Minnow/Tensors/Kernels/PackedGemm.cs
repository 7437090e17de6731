using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The AVX-512 GEMM behind <see cref="MatMul"/> for batches of tokens: y[M, N] = x[M, K]·W[N, K]ᵀ.
/// W is packed panel by panel (32 output columns × KC inputs, transposed so each k is one contiguous
/// 32-float row that stays in L1), and an 8×32 register tile (16 zmm accumulators) is updated with one
/// broadcast of x and two loads of the packed panel per k. Rows or columns past the edge go through small
/// zero-padded buffers, so the micro-kernel never needs a special case.
/// </summary>
internal static unsafe class PackedGemm
{
    public const int MR = 8;
    public const int NR = 32;
    public const int KC = 256;

    /// <summary>Computes output columns [panelStart·NR, min(panelEnd·NR, n)) of y for all m rows.</summary>
    public static void Run(float* w, float* x, float* y, int m, int n, int k, int panelStart, int panelEnd)
    {
        float* packed = stackalloc float[KC * NR];
        float* rowsPad = stackalloc float[MR * KC];
        float* tile = stackalloc float[MR * NR];
        for (int panel = panelStart; panel < panelEnd; panel++)
        {
            int n0 = panel * NR;
            int cols = Math.Min(NR, n - n0);
            for (int k0 = 0; k0 < k; k0 += KC)
            {
                int kc = Math.Min(KC, k - k0);
                Pack(w + (long)n0 * k + k0, k, cols, kc, packed);
                bool accumulate = k0 > 0;
                for (int m0 = 0; m0 < m; m0 += MR)
                {
                    int rows = Math.Min(MR, m - m0);
                    float* a = x + (long)m0 * k + k0;
                    int lda = k;
                    if (rows < MR)
                    {
                        // Too few rows left: copy them into a zero-padded block.
                        new Span<float>(rowsPad, MR * KC).Clear();
                        for (int r = 0; r < rows; r++)
                            new ReadOnlySpan<float>(a + (long)r * k, kc).CopyTo(new Span<float>(rowsPad + r * KC, kc));
                        a = rowsPad;
                        lda = KC;
                    }
                    float* c = y + (long)m0 * n + n0;
                    if (rows == MR && cols == NR)
                    {
                        Kernel8x32(a, lda, packed, kc, c, n, accumulate);
                        continue;
                    }
                    // Partial tile: compute into a full scratch tile, then copy the valid part.
                    for (int r = 0; r < rows; r++)
                        for (int j = 0; j < NR; j++)
                            tile[r * NR + j] = accumulate && j < cols ? c[(long)r * n + j] : 0f;
                    Kernel8x32(a, lda, packed, kc, tile, NR, accumulate);
                    for (int r = 0; r < rows; r++)
                        new ReadOnlySpan<float>(tile + r * NR, cols).CopyTo(new Span<float>(c + (long)r * n, cols));
                }
            }
        }
    }

    /// <summary>packed[kk·NR + j] = W[j, kk] for the panel's rows (zero beyond <paramref name="cols"/>).</summary>
    private static void Pack(float* w, int ldw, int cols, int kc, float* packed)
    {
        for (int j = 0; j < NR; j++)
        {
            if (j >= cols)
            {
                for (int kk = 0; kk < kc; kk++) packed[kk * NR + j] = 0f;
                continue;
            }
            float* row = w + (long)j * ldw;
            for (int kk = 0; kk < kc; kk++)
                packed[kk * NR + j] = row[kk];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(float* a, int lda, float* b, int kc, float* c, int ldc, bool accumulate)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (accumulate)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda, a6 = a + 6 * lda, a7 = a + 7 * lda;
        for (int kk = 0; kk < kc; kk++)
        {
            var b0 = Vector512.Load(b + kk * NR);
            var b1 = Vector512.Load(b + kk * NR + 16);
            var v = Vector512.Create(a0[kk]); c00 = Vector512.FusedMultiplyAdd(v, b0, c00); c01 = Vector512.FusedMultiplyAdd(v, b1, c01);
            v = Vector512.Create(a1[kk]); c10 = Vector512.FusedMultiplyAdd(v, b0, c10); c11 = Vector512.FusedMultiplyAdd(v, b1, c11);
            v = Vector512.Create(a2[kk]); c20 = Vector512.FusedMultiplyAdd(v, b0, c20); c21 = Vector512.FusedMultiplyAdd(v, b1, c21);
            v = Vector512.Create(a3[kk]); c30 = Vector512.FusedMultiplyAdd(v, b0, c30); c31 = Vector512.FusedMultiplyAdd(v, b1, c31);
            v = Vector512.Create(a4[kk]); c40 = Vector512.FusedMultiplyAdd(v, b0, c40); c41 = Vector512.FusedMultiplyAdd(v, b1, c41);
            v = Vector512.Create(a5[kk]); c50 = Vector512.FusedMultiplyAdd(v, b0, c50); c51 = Vector512.FusedMultiplyAdd(v, b1, c51);
            v = Vector512.Create(a6[kk]); c60 = Vector512.FusedMultiplyAdd(v, b0, c60); c61 = Vector512.FusedMultiplyAdd(v, b1, c61);
            v = Vector512.Create(a7[kk]); c70 = Vector512.FusedMultiplyAdd(v, b0, c70); c71 = Vector512.FusedMultiplyAdd(v, b1, c71);
        }
        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + ldc); c11.Store(c + ldc + 16);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc); c71.Store(c + 7 * ldc + 16);
    }
}
