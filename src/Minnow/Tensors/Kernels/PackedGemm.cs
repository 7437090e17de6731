using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// The GEMM behind <see cref="MatMul"/> for batches of tokens: y[M, N] = x[M, K]·W[N, K]ᵀ (M tokens, N output
/// features, K input features). It computes the transposed product so the weights are used exactly as stored
/// ([out, in], often memory-mapped) and never copied: the activations are packed once per call into panels of NR
/// tokens ([K][NR], so each k is one or two contiguous vectors), and a register tile of MR weight rows × NR tokens
/// takes one broadcast from each weight row and the panel's vectors per k.
/// Blocking: the MR weight rows of a tile (MR·K floats) stay in L1 while the panels of one token block pass them;
/// a token block (the panels fitting <see cref="TokenBlockBytes"/>) stays in L2 while all of a thread's weight rows
/// pass it, so each weight is read from memory once per token block (once per call for prompts up to ~128 tokens)
/// and the packed activations are read from L2, not from the shared L3, which is what limited 2 threads before.
/// Tile shapes per path: Vector512 8×32 (16 accumulators of its 32 registers), Vector256 6×16 (12 of 16),
/// portable Vector&lt;float&gt; 4×(2 vectors) (8 accumulators, fits AVX2 and NEON).
/// </summary>
internal static unsafe class PackedGemm
{
    /// <summary>
    /// Budget for one token block of packed activations: half of a 1 MB L2, leaving room for the weight rows. More
    /// panels per block means more kernel calls per pass over a weight block (5 at K = 768 instead of 2 at 256 KB);
    /// on a busy machine 512 KB measured 82% and 89% of the FMA peak (1 thread, 1024³ and 512×3072×768, median of
    /// 15 rounds) against 78% and 82% for 256 KB and 77% and 85% for no blocking.
    /// </summary>
    private const int TokenBlockBytes = 512 * 1024;

    /// <summary>Weight rows (MR) and tokens (NR) of the register tile of a SIMD path.</summary>
    public static (int MR, int NR) Tile(SimdWidth width) => width switch
    {
        SimdWidth.Vector512 => (8, 32),
        SimdWidth.Vector256 => (6, 16),
        _ => (4, 2 * Vector<float>.Count),
    };

    public static int Panels(int m, int nr) => (m + nr - 1) / nr;

    /// <summary>Floats needed for the packed activations of <paramref name="m"/> tokens with <paramref name="k"/> features.</summary>
    public static long PackedLength(int m, int k, int nr) => (long)Panels(m, nr) * nr * k;

    /// <summary>
    /// Tokens in panel <paramref name="p"/>'s layout: NR, except that on the Vector512 path a last panel of at most
    /// 16 tokens is packed 16 wide, so short prompts do not pay for 32.
    /// </summary>
    private static int PanelWidth(int p, int m, int nr, SimdWidth width) =>
        width == SimdWidth.Vector512 && m - p * nr <= 16 ? 16 : nr;

    /// <summary>Packs x [m, k] into panels: panel p holds xT[kk·width + j] = x[p·NR + j, kk] (zero past m).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackActivations(float* x, int m, int k, int nr, SimdWidth simd, float* packed, int panelStart, int panelEnd)
    {
        for (int p = panelStart; p < panelEnd; p++)
        {
            int width = PanelWidth(p, m, nr, simd);
            float* panel = packed + (long)p * nr * k;
            for (int j = 0; j < width; j++)
            {
                int token = p * nr + j;
                if (token >= m)
                {
                    for (int kk = 0; kk < k; kk++) panel[kk * width + j] = 0f;
                    continue;
                }
                float* row = x + (long)token * k;
                for (int kk = 0; kk < k; kk++)
                    panel[kk * width + j] = row[kk];
            }
        }
    }

    [ThreadStatic] private static float[]? _paddedRows;

    /// <summary>Computes output features [blockStart·MR, min(blockEnd·MR, n)) of y [m, n] for all m tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(float* w, float* packedX, float* y, int m, int n, int k, SimdWidth simd, int blockStart, int blockEnd)
    {
        var (mr, nr) = Tile(simd);
        int panels = Panels(m, nr);
        int panelsPerBlock = Math.Max(1, TokenBlockBytes / (nr * k * sizeof(float)));
        float* tile = stackalloc float[mr * nr];
        for (int p0 = 0; p0 < panels; p0 += panelsPerBlock)
        {
            int p1 = Math.Min(panels, p0 + panelsPerBlock);
            for (int block = blockStart; block < blockEnd; block++)
            {
                int n0 = block * mr;
                int rows = Math.Min(mr, n - n0);
                float* wRows = w + (long)n0 * k;
                if (rows < mr)
                {
                    // The last block of weight rows: a zero-padded copy of MR rows.
                    if (_paddedRows is null || _paddedRows.Length < mr * k)
                        _paddedRows = GC.AllocateArray<float>(mr * k, pinned: true);
                    _paddedRows.AsSpan().Clear();
                    new ReadOnlySpan<float>(wRows, rows * k).CopyTo(_paddedRows);
                    wRows = (float*)Unsafe.AsPointer(ref _paddedRows[0]);
                }
                for (int p = p0; p < p1; p++)
                {
                    int width = PanelWidth(p, m, nr, simd);
                    float* panel = packedX + (long)p * nr * k;
                    switch (simd)
                    {
                        case SimdWidth.Vector512 when width == 16: Kernel8x16(wRows, k, panel, tile); break;
                        case SimdWidth.Vector512: Kernel8x32(wRows, k, panel, tile); break;
                        case SimdWidth.Vector256: Kernel6x16(wRows, k, panel, tile); break;
                        default: KernelPortable(wRows, k, panel, tile); break;
                    }
                    int tokens = Math.Min(width, m - p * nr);
                    for (int t = 0; t < tokens; t++)
                    {
                        float* yRow = y + (long)(p * nr + t) * n + n0;
                        for (int r = 0; r < rows; r++)
                            yRow[r] = tile[r * width + t];
                    }
                }
            }
        }
    }

    /// <summary>tile[r·32 + t] = Σ_kk w[r·k + kk]·panel[kk·32 + t] for 8 rows and 32 tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(float* w, int k, float* panel, float* tile)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        float* w0 = w, w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k, w4 = w + 4 * k, w5 = w + 5 * k, w6 = w + 6 * k, w7 = w + 7 * k;
        for (int kk = 0; kk < k; kk++)
        {
            var x0 = Vector512.Load(panel + kk * 32);
            var x1 = Vector512.Load(panel + kk * 32 + 16);
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
        c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80);
        c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144);
        c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208);
        c70.Store(tile + 224); c71.Store(tile + 240);
    }

    /// <summary>The last panel of a short batch on the Vector512 path: 8 rows × 16 tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x16(float* w, int k, float* panel, float* tile)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        float* w0 = w, w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k, w4 = w + 4 * k, w5 = w + 5 * k, w6 = w + 6 * k, w7 = w + 7 * k;
        for (int kk = 0; kk < k; kk++)
        {
            var x0 = Vector512.Load(panel + kk * 16);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[kk]), x0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(w1[kk]), x0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(w2[kk]), x0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(w3[kk]), x0, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(w4[kk]), x0, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(w5[kk]), x0, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(w6[kk]), x0, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(w7[kk]), x0, c7);
        }
        c0.Store(tile); c1.Store(tile + 16); c2.Store(tile + 32); c3.Store(tile + 48);
        c4.Store(tile + 64); c5.Store(tile + 80); c6.Store(tile + 96); c7.Store(tile + 112);
    }

    /// <summary>6 rows × 16 tokens for AVX2's 16 registers: 12 accumulators, 2 panel vectors, 1 broadcast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(float* w, int k, float* panel, float* tile)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* w0 = w, w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k, w4 = w + 4 * k, w5 = w + 5 * k;
        for (int kk = 0; kk < k; kk++)
        {
            var x0 = Vector256.Load(panel + kk * 16);
            var x1 = Vector256.Load(panel + kk * 16 + 8);
            var v = Vector256.Create(w0[kk]); c00 = Vector256.FusedMultiplyAdd(v, x0, c00); c01 = Vector256.FusedMultiplyAdd(v, x1, c01);
            v = Vector256.Create(w1[kk]); c10 = Vector256.FusedMultiplyAdd(v, x0, c10); c11 = Vector256.FusedMultiplyAdd(v, x1, c11);
            v = Vector256.Create(w2[kk]); c20 = Vector256.FusedMultiplyAdd(v, x0, c20); c21 = Vector256.FusedMultiplyAdd(v, x1, c21);
            v = Vector256.Create(w3[kk]); c30 = Vector256.FusedMultiplyAdd(v, x0, c30); c31 = Vector256.FusedMultiplyAdd(v, x1, c31);
            v = Vector256.Create(w4[kk]); c40 = Vector256.FusedMultiplyAdd(v, x0, c40); c41 = Vector256.FusedMultiplyAdd(v, x1, c41);
            v = Vector256.Create(w5[kk]); c50 = Vector256.FusedMultiplyAdd(v, x0, c50); c51 = Vector256.FusedMultiplyAdd(v, x1, c51);
        }
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72);
        c50.Store(tile + 80); c51.Store(tile + 88);
    }

    /// <summary>4 rows × 2 vectors of tokens with Vector&lt;float&gt; (16 tokens on AVX2, 8 on NEON): 8 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelPortable(float* w, int k, float* panel, float* tile)
    {
        int vw = Vector<float>.Count, nr = 2 * vw;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        float* w0 = w, w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        for (int kk = 0; kk < k; kk++)
        {
            var x0 = Vector.Load(panel + kk * nr);
            var x1 = Vector.Load(panel + kk * nr + vw);
            var v = new Vector<float>(w0[kk]); c00 = Vector.FusedMultiplyAdd(v, x0, c00); c01 = Vector.FusedMultiplyAdd(v, x1, c01);
            v = new Vector<float>(w1[kk]); c10 = Vector.FusedMultiplyAdd(v, x0, c10); c11 = Vector.FusedMultiplyAdd(v, x1, c11);
            v = new Vector<float>(w2[kk]); c20 = Vector.FusedMultiplyAdd(v, x0, c20); c21 = Vector.FusedMultiplyAdd(v, x1, c21);
            v = new Vector<float>(w3[kk]); c30 = Vector.FusedMultiplyAdd(v, x0, c30); c31 = Vector.FusedMultiplyAdd(v, x1, c31);
        }
        c00.Store(tile); c01.Store(tile + vw);
        c10.Store(tile + nr); c11.Store(tile + nr + vw);
        c20.Store(tile + 2 * nr); c21.Store(tile + 2 * nr + vw);
        c30.Store(tile + 3 * nr); c31.Store(tile + 3 * nr + vw);
    }
}
