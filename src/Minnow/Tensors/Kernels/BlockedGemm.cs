using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Minnow.Tensors.Kernels;

/// <summary>
/// C [M, N] (row stride Ldc) (+)= A·B over a contraction of K, with A(m, p) = A[m·ARowStride + p·AColStride] and
/// B(p, n) = B[p·BRowStride + n·BColStride]: either operand may be read transposed.
/// </summary>
internal readonly unsafe struct GemmOperands(float* a, int aRowStride, int aColStride, float* b, int bRowStride, int bColStride, float* c, int ldc, int m, int n, int k)
{
    public readonly float* A = a, B = b, C = c;
    public readonly int ARowStride = aRowStride, AColStride = aColStride, BRowStride = bRowStride, BColStride = bColStride, Ldc = ldc, M = m, N = n, K = k;
}

/// <summary>
/// A blocked fp32 GEMM whose operands may be read along rows or columns (so dY·W, dYᵀ·X and attention's Q·Kᵀ need no
/// transposed copies). The contraction is cut into blocks of B rows that fit L2. An MR×NR register tile (AVX-512: 8×32,
/// 16 accumulators; portable: 4×2 Vector&lt;float&gt;) walks a strip of NR columns of B, broadcasting A straight from where
/// it lies. Strips are read in place when B's rows are contiguous; a transposed B (attention's Kᵀ) and the last,
/// narrower strip are first packed per thread into zero-padded [p][NR] strips. Packing everything cost as much as the
/// multiply for the small products of attention, and gained nothing on the large ones. Edge rows are computed aside.
/// Threads split C by rows, and every element is summed in the same order whatever the thread count, so the
/// result does not depend on it.
/// </summary>
internal static unsafe class BlockedGemm
{
    /// <summary>Bytes of B per contraction block: its packed copy must stay in L2 while every row tile of C passes over it.</summary>
    private const int BlockBytes = 384 * 1024;

    /// <summary>Runs the product on <paramref name="pool"/>, or on the calling thread if it is null.</summary>
    public static void Run(in GemmOperands o, bool accumulate, WorkerPool? pool)
    {
        if (o.M == 0 || o.N == 0)
            return;
        if (o.K == 0)
        {
            if (!accumulate)
                for (int m = 0; m < o.M; m++)
                    new Span<float>(o.C + (long)m * o.Ldc, o.N).Clear();
            return;
        }
        bool wide = Simd.Active == SimdWidth.Vector512;
        int mr = wide ? 8 : 4;
        int blockRows = Math.Clamp(BlockBytes / (o.N * sizeof(float)) / 8 * 8, 8, 1024);
        var job = new Job(o, mr, wide ? 32 : 2 * Vector<float>.Count, wide);
        int tiles = (o.M + mr - 1) / mr;
        for (int p0 = 0; p0 < o.K; p0 += blockRows)
        {
            job.P0 = p0;
            job.Depth = Math.Min(blockRows, o.K - p0);
            job.Accumulate = accumulate || p0 > 0;
            if (pool is null)
                job.Run(0, tiles);
            else
                pool.For(tiles, job.Run);
        }
    }

    private sealed class Job(GemmOperands o, int mr, int nr, bool wide)
    {
        public int P0, Depth;
        public bool Accumulate;

        [ThreadStatic] private static float[]? _scratch;

        public void Run(int tileStart, int tileEnd)
        {
            int depth = Depth, strips = (o.N + nr - 1) / nr;
            // Per thread: B's block packed as zero-padded strips [strips][depth][nr] (only strips that cannot be read in
            // place: transposed B or the last, narrower columns), a zero-padded A panel for the last rows [depth][mr],
            // and a C tile for edges.
            long need = (long)strips * depth * nr + (long)depth * mr + mr * nr;
            if (_scratch is null || _scratch.Length < need)
                _scratch = GC.AllocateUninitializedArray<float>((int)need, pinned: true);
            fixed (float* scratch = _scratch)
            {
                float* packedB = scratch, panel = packedB + (long)strips * depth * nr, tile = panel + depth * mr;
                PackB(packedB, strips, depth);
                for (int ti = tileStart; ti < tileEnd; ti++)
                {
                    int m0 = ti * mr, rows = Math.Min(mr, o.M - m0);
                    // Full tiles read A in place; the last rows are copied into a zero-padded panel.
                    float* a = o.A + (long)m0 * o.ARowStride + (long)P0 * o.AColStride;
                    nint rowStep = o.ARowStride, depthStep = o.AColStride;
                    if (rows < mr)
                    {
                        for (int p = 0; p < depth; p++)
                            for (int r = 0; r < mr; r++)
                                panel[p * mr + r] = r < rows ? a[(long)r * o.ARowStride + (long)p * o.AColStride] : 0f;
                        a = panel;
                        rowStep = 1;
                        depthStep = mr;
                    }
                    for (int s = 0; s < strips; s++)
                    {
                        int n0 = s * nr, columns = Math.Min(nr, o.N - n0);
                        bool inPlace = InPlace(columns);
                        float* b = inPlace ? o.B + (long)P0 * o.BRowStride + n0 : packedB + (long)s * depth * nr;
                        int ldb = inPlace ? o.BRowStride : nr;
                        float* c = o.C + (long)m0 * o.Ldc + n0;
                        if (rows == mr && columns == nr)
                        {
                            Kernel(a, rowStep, depthStep, b, ldb, c, o.Ldc, depth, Accumulate);
                            continue;
                        }
                        if (wide && rows == mr && columns == 16)
                        {
                            Kernel8x16(a, rowStep, depthStep, b, ldb, c, o.Ldc, depth, Accumulate);
                            continue;
                        }
                        // An edge tile: compute a whole tile aside, keep the valid part.
                        Kernel(a, rowStep, depthStep, b, ldb, tile, nr, depth, accumulate: false);
                        for (int r = 0; r < rows; r++)
                            for (int j = 0; j < columns; j++)
                                c[(long)r * o.Ldc + j] = Accumulate ? c[(long)r * o.Ldc + j] + tile[r * nr + j] : tile[r * nr + j];
                    }
                }
            }
        }

        /// <summary>Whether a strip of this many columns is read straight from B (rows contiguous, a full or 16-wide strip).</summary>
        private bool InPlace(int columns) => o.BColStride == 1 && (columns == nr || (wide && columns == 16));

        /// <summary>B's rows [P0, P0 + depth) as strips: packedB[s][p][j] = B(P0 + p, s·nr + j), zero past N.</summary>
        private void PackB(float* packedB, int strips, int depth)
        {
            for (int s = 0; s < strips; s++)
            {
                int n0 = s * nr, columns = Math.Min(nr, o.N - n0);
                if (InPlace(columns))
                    continue;
                float* dst = packedB + (long)s * depth * nr;
                for (int p = 0; p < depth; p++)
                {
                    float* src = o.B + (long)(P0 + p) * o.BRowStride + (long)n0 * o.BColStride;
                    if (columns == nr && o.BColStride == 1)
                        new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(dst + p * nr, nr));
                    else
                        for (int j = 0; j < nr; j++)
                            dst[p * nr + j] = j < columns ? src[(long)j * o.BColStride] : 0f;
                }
            }
        }

        private void Kernel(float* a, nint rowStep, nint depthStep, float* b, int ldb, float* c, int ldc, int depth, bool accumulate)
        {
            if (wide)
                Kernel8x32(a, rowStep, depthStep, b, ldb, c, ldc, depth, accumulate);
            else
                KernelPortable(a, rowStep, depthStep, b, ldb, c, ldc, depth, accumulate);
        }
    }

    /// <summary>
    /// c[r, 0..32) (+)= Σ_p a[r·rowStep + p·depthStep]·b[p·ldb + 0..32) for 8 rows: 16 zmm accumulators, 2 loads and 8
    /// broadcasts per step. A is read in place (rows of dY, or columns of dY: either way one pointer and two steps).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(float* a, nint rowStep, nint depthStep, float* b, int ldb, float* c, int ldc, int depth, bool accumulate)
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
        nint r2 = 2 * rowStep, r3 = 3 * rowStep, r4 = 4 * rowStep, r5 = 5 * rowStep, r6 = 6 * rowStep, r7 = 7 * rowStep;
        for (int p = 0; p < depth; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            b += ldb;
            var x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[rowStep]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[r2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[r3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[r4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[r5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[r6]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[r7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            a += depthStep;
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

    /// <summary>The portable tile: 4 rows × 2 Vector&lt;float&gt; (8 accumulators fit 16 AVX2 or 32 NEON registers).</summary>
    private static void KernelPortable(float* a, nint rowStep, nint depthStep, float* b, int ldb, float* c, int ldc, int depth, bool accumulate)
    {
        int w = Vector<float>.Count;
        Vector<float> c00, c01, c10, c11, c20, c21, c30, c31;
        if (accumulate)
        {
            c00 = Vector.Load(c); c01 = Vector.Load(c + w);
            c10 = Vector.Load(c + ldc); c11 = Vector.Load(c + ldc + w);
            c20 = Vector.Load(c + 2 * ldc); c21 = Vector.Load(c + 2 * ldc + w);
            c30 = Vector.Load(c + 3 * ldc); c31 = Vector.Load(c + 3 * ldc + w);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector<float>.Zero;
        }
        nint r2 = 2 * rowStep, r3 = 3 * rowStep;
        for (int p = 0; p < depth; p++)
        {
            var b0 = Vector.Load(b);
            var b1 = Vector.Load(b + w);
            b += ldb;
            var x = new Vector<float>(a[0]); c00 = Vector.FusedMultiplyAdd(x, b0, c00); c01 = Vector.FusedMultiplyAdd(x, b1, c01);
            x = new Vector<float>(a[rowStep]); c10 = Vector.FusedMultiplyAdd(x, b0, c10); c11 = Vector.FusedMultiplyAdd(x, b1, c11);
            x = new Vector<float>(a[r2]); c20 = Vector.FusedMultiplyAdd(x, b0, c20); c21 = Vector.FusedMultiplyAdd(x, b1, c21);
            x = new Vector<float>(a[r3]); c30 = Vector.FusedMultiplyAdd(x, b0, c30); c31 = Vector.FusedMultiplyAdd(x, b1, c31);
            a += depthStep;
        }
        c00.Store(c); c01.Store(c + w);
        c10.Store(c + ldc); c11.Store(c + ldc + w);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + w);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + w);
    }

    /// <summary>The 16-column edge (head sizes of 16 and 48): 8 zmm accumulators; B's strip rows are <paramref name="ldb"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x16(float* a, nint rowStep, nint depthStep, float* b, int ldb, float* c, int ldc, int depth, bool accumulate)
    {
        Vector512<float> c0, c1, c2, c3, c4, c5, c6, c7;
        if (accumulate)
        {
            c0 = Vector512.Load(c); c1 = Vector512.Load(c + ldc); c2 = Vector512.Load(c + 2 * ldc); c3 = Vector512.Load(c + 3 * ldc);
            c4 = Vector512.Load(c + 4 * ldc); c5 = Vector512.Load(c + 5 * ldc); c6 = Vector512.Load(c + 6 * ldc); c7 = Vector512.Load(c + 7 * ldc);
        }
        else
        {
            c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = Vector512<float>.Zero;
        }
        nint r2 = 2 * rowStep, r3 = 3 * rowStep, r4 = 4 * rowStep, r5 = 5 * rowStep, r6 = 6 * rowStep, r7 = 7 * rowStep;
        for (int p = 0; p < depth; p++)
        {
            var b0 = Vector512.Load(b);
            b += ldb;
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[rowStep]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r2]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r3]), b0, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r4]), b0, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r5]), b0, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r6]), b0, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r7]), b0, c7);
            a += depthStep;
        }
        c0.Store(c); c1.Store(c + ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
    }
}
