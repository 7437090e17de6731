using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The AVX-512 GEMM behind <see cref="MatMul"/> for batches of tokens: y[M, N] = x[M, K]·W[N, K]ᵀ.
/// It computes the transposed product so the weights are used exactly as stored: the activations are
/// packed once per call into panels of 32 tokens ([K][32], so each k is two contiguous vectors), and an
/// 8×32 register tile (16 zmm accumulators) takes one broadcast from each of 8 weight rows and two panel
/// loads per k. The 8 weight rows stay in L1 while every token panel passes them, so each weight is read
/// from memory once per call and never copied — packing the weights instead cost half the time on cold,
/// memory-mapped matrices. Remainder rows and tokens go through zero-padded buffers.
/// </summary>
internal static unsafe class PackedGemm
{
    /// <summary>Weight rows (output features) per register tile.</summary>
    public const int MR = 8;
    /// <summary>Tokens per register tile and per packed panel.</summary>
    public const int NR = 32;

    /// <summary>Floats needed for the packed activations of <paramref name="m"/> tokens with <paramref name="k"/> features.</summary>
    public static long PackedLength(int m, int k) => (long)(m + NR - 1) / NR * NR * k;

    /// <summary>Packs x [m, k] into panels of NR tokens, transposed: panel p holds xT[kk·NR + j] = x[p·NR + j, kk] (zero past m).</summary>
    public static void PackActivations(float* x, int m, int k, float* packed, int panelStart, int panelEnd)
    {
        for (int p = panelStart; p < panelEnd; p++)
        {
            float* panel = packed + (long)p * NR * k;
            for (int j = 0; j < NR; j++)
            {
                int token = p * NR + j;
                if (token >= m)
                {
                    for (int kk = 0; kk < k; kk++) panel[kk * NR + j] = 0f;
                    continue;
                }
                float* row = x + (long)token * k;
                for (int kk = 0; kk < k; kk++)
                    panel[kk * NR + j] = row[kk];
            }
        }
    }

    /// <summary>Computes output features [blockStart·MR, min(blockEnd·MR, n)) for all m tokens.</summary>
    public static void Run(float* w, float* packedX, float* y, int m, int n, int k, int blockStart, int blockEnd)
    {
        int panels = (m + NR - 1) / NR;
        float* tile = stackalloc float[MR * NR];
        float[]? padded = null;
        for (int block = blockStart; block < blockEnd; block++)
        {
            int n0 = block * MR;
            int rows = Math.Min(MR, n - n0);
            float* wBlock = w + (long)n0 * k;
            if (rows < MR)
            {
                // The last block of weight rows: copy it into a zero-padded block of MR rows.
                padded = new float[MR * k];
                new ReadOnlySpan<float>(wBlock, rows * k).CopyTo(padded);
            }
            fixed (float* pad = padded)
            {
                float* wRows = rows < MR ? pad : wBlock;
                for (int p = 0; p < panels; p++)
                {
                    Kernel(wRows, k, packedX + (long)p * NR * k, tile);
                    int tokens = Math.Min(NR, m - p * NR);
                    for (int t = 0; t < tokens; t++)
                    {
                        float* yRow = y + (long)(p * NR + t) * n + n0;
                        for (int r = 0; r < rows; r++)
                            yRow[r] = tile[r * NR + t];
                    }
                }
            }
        }
    }

    /// <summary>tile[r·NR + t] = Σ_kk w[r·k + kk]·panel[kk·NR + t] for 8 rows and 32 tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(float* w, int k, float* panel, float* tile)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        float* w0 = w, w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k, w4 = w + 4 * k, w5 = w + 5 * k, w6 = w + 6 * k, w7 = w + 7 * k;
        for (int kk = 0; kk < k; kk++)
        {
            var x0 = Vector512.Load(panel + kk * NR);
            var x1 = Vector512.Load(panel + kk * NR + 16);
            var v = Vector512.Create(w0[kk]); c00 = Vector512.FusedMultiplyAdd(v, x0, c00); c01 = Vector512.FusedMultiplyAdd(v, x1, c01);
            v = Vector512.Create(w1[kk]); c10 = Vector512.FusedMultiplyAdd(v, x0, c10); c11 = Vector512.FusedMultiplyAdd(v, x1, c11);
            v = Vector512.Create(w2[kk]); c20 = Vector512.FusedMultiplyAdd(v, x0, c20); c21 = Vector512.FusedMultiplyAdd(v, x1, c21);
            v = Vector512.Create(w3[kk]); c30 = Vector512.FusedMultiplyAdd(v, x0, c30); c31 = Vector512.FusedMultiplyAdd(v, x1, c31);
            v = Vector512.Create(w4[kk]); c40 = Vector512.FusedMultiplyAdd(v, x0, c40); c41 = Vector512.FusedMultiplyAdd(v, x1, c41);
            v = Vector512.Create(w5[kk]); c50 = Vector512.FusedMultiplyAdd(v, x0, c50); c51 = Vector512.FusedMultiplyAdd(v, x1, c51);
            v = Vector512.Create(w6[kk]); c60 = Vector512.FusedMultiplyAdd(v, x0, c60); c61 = Vector512.FusedMultiplyAdd(v, x1, c61);
            v = Vector512.Create(w7[kk]); c70 = Vector512.FusedMultiplyAdd(v, x0, c70); c71 = Vector512.FusedMultiplyAdd(v, x1, c71);
        }
        c00.Store(tile); c01.Store(tile + 16);
        c10.Store(tile + NR); c11.Store(tile + NR + 16);
        c20.Store(tile + 2 * NR); c21.Store(tile + 2 * NR + 16);
        c30.Store(tile + 3 * NR); c31.Store(tile + 3 * NR + 16);
        c40.Store(tile + 4 * NR); c41.Store(tile + 4 * NR + 16);
        c50.Store(tile + 5 * NR); c51.Store(tile + 5 * NR + 16);
        c60.Store(tile + 6 * NR); c61.Store(tile + 6 * NR + 16);
        c70.Store(tile + 7 * NR); c71.Store(tile + 7 * NR + 16);
    }
}
