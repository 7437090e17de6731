using Minnow.Generation;
using Minnow.Tensors;
using Minnow.Tensors.Kernels;

namespace Minnow.Tests.Kernels;

/// <summary>Every SIMD path against its scalar twin on odd shapes. Tests that switch <see cref="Simd.Active"/> run serially.</summary>
[Collection("Simd")]
public class KernelTests
{
    public static IEnumerable<object[]> Widths() =>
        Enum.GetValues<SimdWidth>().Where(w => w <= Simd.Best).Select(w => new object[] { w });

    /// <summary>Gaussian test values (shared with the other kernel test classes).</summary>
    internal static float[] Random(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rng.NextGaussian();
        return x;
    }

    /// <summary>Runs <paramref name="body"/> with the kernels forced to <paramref name="width"/>.</summary>
    internal static void WithWidth(SimdWidth width, Action body)
    {
        var saved = Simd.Active;
        Simd.Active = width;
        try { body(); }
        finally { Simd.Active = saved; }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void DotMatchesScalar(SimdWidth width) => WithWidth(width, () =>
    {
        foreach (int n in new[] { 1, 3, 17, 65, 127, 1000 })
        {
            var a = Random(n, 1);
            var b = Random(n, 2);
            fixed (float* pa = a, pb = b)
            {
                float fast = Dot.Compute(pa, pb, n);
                double exact = 0;
                for (int i = 0; i < n; i++) exact += (double)a[i] * b[i];
                Assert.True(Math.Abs(fast - exact) < 1e-4 * Math.Sqrt(n), $"n={n}: {fast} vs {exact}");
                Assert.True(Math.Abs(fast - Dot.Scalar(pa, pb, n)) < 1e-4 * Math.Sqrt(n));
            }
        }
    });

    /// <summary>(out, in, tokens): row tiles below 8 tokens, the packed GEMM from 8 (full and partial panels, remainder rows).</summary>
    private static readonly (int Out, int In, int Tokens)[] MatMulShapes =
    [
        (1, 1, 1), (3, 17, 1), (17, 65, 3), (8, 64, 4), (5, 300, 7), (65, 33, 5),
        (1, 1, 8), (5, 300, 9), (65, 33, 17), (17, 65, 33), (9, 3, 65), (67, 129, 40),
    ];

    [Theory]
    [MemberData(nameof(Widths))]
    public void MatMulMatchesScalar(SimdWidth width) => WithWidth(width, () =>
    {
        using var pool = new WorkerPool(2);
        foreach (var (outDim, inDim, tokens) in MatMulShapes)
        {
            var w = Tensor.FromFloats("w", Random(outDim * inDim, 3), outDim, inDim);
            var x = Random(tokens * inDim, 4);
            var fast = new float[tokens * outDim];
            var slow = new float[tokens * outDim];
            MatMul.Compute(w, x, fast, tokens, pool);
            MatMul.Scalar(w, x, slow, tokens);
            for (int i = 0; i < fast.Length; i++)
                Assert.True(Math.Abs(fast[i] - slow[i]) < 1e-4f * Math.Sqrt(inDim), $"{width} [{outDim}x{inDim}]x{tokens} at {i}: {fast[i]} vs {slow[i]}");
        }
    });

    [Theory]
    [MemberData(nameof(Widths))]
    public void MatMulIsIdenticalForAnyThreadCountAndFusedOrNot(SimdWidth width) => WithWidth(width, () =>
    {
        var wq = Tensor.FromFloats("wq", Random(67 * 129, 5), 67, 129);
        var wk = Tensor.FromFloats("wk", Random(9 * 129, 6), 9, 129);
        var wv = Tensor.FromFloats("wv", Random(33 * 129, 7), 33, 129);
        foreach (int tokens in new[] { 1, 3, 7, 8, 40 })
        {
            var x = Random(tokens * 129, 8);
            float[] Separate(Tensor w, int threads)
            {
                using var pool = new WorkerPool(threads);
                var y = new float[tokens * w.Rows];
                MatMul.Compute(w, x, y, tokens, pool);
                return y;
            }
            var q1 = Separate(wq, 1);
            var k1 = Separate(wk, 1);
            var v1 = Separate(wv, 1);
            Assert.Equal(q1, Separate(wq, 2));
            Assert.Equal(q1, Separate(wq, 3));
            foreach (int threads in new[] { 1, 2, 3 })
            {
                using var pool = new WorkerPool(threads);
                float[] q = new float[tokens * 67], k = new float[tokens * 9], v = new float[tokens * 33];
                MatMul.Compute(x, tokens, pool, wq, q, wk, k, wv, v);
                Assert.Equal(q1, q);
                Assert.Equal(k1, k);
                Assert.Equal(v1, v);
                float[] g = new float[tokens * 67], u = new float[tokens * 33];
                MatMul.Compute(x, tokens, pool, wq, g, wv, u);
                Assert.Equal(q1, g);
                Assert.Equal(v1, u);
            }
        }
    });

    [Fact]
    public void FusedMatMulRejectsMismatchedShapes()
    {
        using var pool = new WorkerPool(1);
        var a = Tensor.Zeros("a", 4, 8);
        var b = Tensor.Zeros("b", 4, 9);
        Assert.Throws<ArgumentException>(() => MatMul.Compute(new float[8], 1, pool, a, new float[4], b, new float[4]));
        Assert.Throws<ArgumentException>(() => MatMul.Compute(new float[8], 1, pool, a, new float[3], a, new float[4]));
        Assert.Throws<ArgumentException>(() => MatMul.Compute(a, new float[7], new float[4], 1, pool));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void AttentionRowsMatchScalar(SimdWidth width) => WithWidth(width, () =>
    {
        foreach (bool bf16 in new[] { false, true })
            foreach (int headDim in new[] { 1, 3, 17, 32, 64, 65, 80, 128 })
                foreach (int length in new[] { 1, 3, 17, 65 })
                    foreach (int rows in new[] { 1, 2, 3, 4, 5, 7 })
                    {
                        // Query rows, score rows and output rows each at their own stride, as attention lays them out.
                        int stride = headDim * 3 + 5, qStride = headDim + 3, sStride = length + 2, oStride = headDim + 2;
                        var q = Random(rows * qStride, 10);
                        // A BF16 cache (padded as InferenceState pads it), and its exact float values for the scalar twin.
                        var cache = Random(length * stride + 2, 11);
                        var halves = new ushort[cache.Length + 64];
                        TensorConvert.SingleToBFloat16(cache, halves.AsSpan(0, cache.Length));
                        if (bf16)
                            TensorConvert.BFloat16ToSingle(halves.AsSpan(0, cache.Length), cache);
                        var weights = Random(rows * sStride, 12);
                        var start = Random(rows * oStride, 13);
                        float[] fast = new float[rows * Math.Max(sStride, oStride)], slow = new float[fast.Length];
                        fixed (float* pq = q, pc = cache, pw = weights, pf = fast, ps = slow)
                        fixed (ushort* ph = halves)
                        {
                            if (bf16)
                                AttentionRows.Scores(pq, rows, qStride, ph + 2, stride, headDim, 0.125f, pf, sStride, length);
                            else
                                AttentionRows.Scores(pq, rows, qStride, pc + 2, stride, headDim, 0.125f, pf, sStride, length);
                            for (int r = 0; r < rows; r++)
                            {
                                AttentionRows.ScoresScalar(pq + r * qStride, pc + 2, stride, headDim, 0.125f, ps, length);
                                AssertClose(slow[..length], fast[(r * sStride)..(r * sStride + length)], 1e-5f * headDim);
                            }
                            start.CopyTo(fast, 0);
                            if (bf16)
                                AttentionRows.WeightedSum(pw, sStride, rows, length, ph + 1, stride, headDim, pf, oStride);
                            else
                                AttentionRows.WeightedSum(pw, sStride, rows, length, pc + 1, stride, headDim, pf, oStride);
                            for (int r = 0; r < rows; r++)
                            {
                                start.AsSpan(r * oStride, headDim).CopyTo(slow);
                                AttentionRows.WeightedSumScalar(pw + r * sStride, length, pc + 1, stride, headDim, ps);
                                AssertClose(slow[..headDim], fast[(r * oStride)..(r * oStride + headDim)], 1e-5f * length);
                            }
                        }
                    }
    });

    /// <summary>
    /// Attention over a cache against a plain double-precision reference, for shapes that take each way through it:
    /// grouped heads, one token or many, long caches (split into chunks and merged when there are few (token, KV head)
    /// pairs, walked in blocks when not), sliding windows, soft caps, odd head sizes. 1 and 3 threads agree bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void AttentionMatchesReference(SimdWidth width) => WithWidth(width, () =>
    {
        var cases = new (int Heads, int KvHeads, int HeadDim, int Tokens, int Start, int Window, float SoftCap)[]
        {
            (4, 4, 16, 1, 0, 0, 0), (6, 2, 64, 1, 300, 0, 0), (9, 3, 64, 3, 700, 0, 0), (8, 1, 32, 2, 1000, 100, 0),
            (4, 2, 32, 4, 200, 0, 5f), (4, 2, 17, 20, 5, 0, 0), (6, 2, 24, 9, 600, 0, 0), (2, 1, 8, 1, 40, 16, 0),
            (4, 1, 16, 1, 3000, 0, 0), (4, 2, 16, 2, 2000, 1200, 0), (3, 3, 48, 1, 1100, 0, 3f),
        };
        foreach (var c in cases)
        {
            // The cache has room for more positions than are filled, as a model's does.
            int qDim = c.Heads * c.HeadDim, context = c.Start + c.Tokens, capacity = context + 7;
            var q = Random(c.Tokens * qDim, 21);
            var keys = Random(c.KvHeads * capacity * c.HeadDim, 22);
            var values = Random(c.KvHeads * capacity * c.HeadDim, 23);
            // The same cache as BF16: the reference below reads its exact values (the float cache is rounded to them).
            int n = keys.Length;
            ushort[] keys16 = new ushort[n + 64], values16 = new ushort[n + 64];
            TensorConvert.SingleToBFloat16(keys, keys16.AsSpan(0, n));
            TensorConvert.SingleToBFloat16(values, values16.AsSpan(0, n));
            TensorConvert.BFloat16ToSingle(keys16.AsSpan(0, n), keys);
            TensorConvert.BFloat16ToSingle(values16.AsSpan(0, n), values);
            var outputs = new[] { new float[c.Tokens * qDim], new float[c.Tokens * qDim], new float[c.Tokens * qDim] };
            (int Threads, DType Cache)[] runs = [(1, DType.F32), (3, DType.F32), (2, DType.BF16)];
            for (int i = 0; i < runs.Length; i++)
            {
                using var pool = new WorkerPool(runs[i].Threads);
                bool half = runs[i].Cache == DType.BF16;
                fixed (float* pq = q, pk = keys, pv = values, po = outputs[i])
                fixed (ushort* hk = keys16, hv = values16)
                    Attention.Compute(new AttentionInputs
                    {
                        Queries = pq, Keys = half ? hk : (void*)pk, Values = half ? hv : (void*)pv, CacheType = runs[i].Cache, Output = po, Tokens = c.Tokens,
                        StartPosition = c.Start, Capacity = capacity, Heads = c.Heads, KvHeads = c.KvHeads, HeadDim = c.HeadDim, Scale = 0.3f,
                        SoftCap = c.SoftCap, Window = c.Window,
                    }, pool);
            }
            Assert.Equal(outputs[0], outputs[1]);
            // Same numbers, stored as BF16: the same result up to the order of float operations.
            AssertClose(outputs[0], outputs[2], 1e-5f);

            double worst = 0;
            for (int t = 0; t < c.Tokens; t++)
                for (int h = 0; h < c.Heads; h++)
                {
                    int visible = c.Start + t + 1, first = c.Window > 0 ? Math.Max(0, visible - c.Window) : 0;
                    int kvOffset = h / (c.Heads / c.KvHeads) * capacity * c.HeadDim;
                    var weights = new double[visible - first];
                    for (int p = first; p < visible; p++)
                    {
                        double dot = 0;
                        for (int i = 0; i < c.HeadDim; i++)
                            dot += q[t * qDim + h * c.HeadDim + i] * keys[kvOffset + p * c.HeadDim + i];
                        dot *= 0.3;
                        weights[p - first] = c.SoftCap > 0 ? c.SoftCap * Math.Tanh(dot / c.SoftCap) : dot;
                    }
                    double max = weights.Max(), sum = 0;
                    for (int p = 0; p < weights.Length; p++)
                        sum += weights[p] = Math.Exp(weights[p] - max);
                    for (int i = 0; i < c.HeadDim; i++)
                    {
                        double expected = 0;
                        for (int p = first; p < visible; p++)
                            expected += weights[p - first] / sum * values[kvOffset + p * c.HeadDim + i];
                        worst = Math.Max(worst, Math.Abs(expected - outputs[0][t * qDim + h * c.HeadDim + i]));
                    }
                }
            Assert.True(worst < 2e-5, $"{c}: max |Δ| = {worst:E2}");
        }
    });

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(65)]
    public void OpsMatchScalarTwins(int n)
    {
        var x = Random(n, 7);
        var w = Random(n, 8);
        var fast = new float[n];
        var slow = new float[n];
        foreach (float offset in new[] { 0f, 1f })
        {
            Ops.RmsNorm(x, w, 1e-5f, fast, offset);
            ScalarOps.RmsNorm(x, w, 1e-5f, slow, offset);
            AssertClose(slow, fast, 1e-5f);
        }

        x.CopyTo(fast, 0);
        x.CopyTo(slow, 0);
        Ops.Softmax(fast);
        ScalarOps.Softmax(slow);
        AssertClose(slow, fast, 1e-6f);
        Assert.Equal(1.0, fast.Sum(), 4);

        x.CopyTo(fast, 0);
        x.CopyTo(slow, 0);
        Ops.SwiGlu(fast, w);
        ScalarOps.SwiGlu(slow, w);
        AssertClose(slow, fast, 1e-5f);
    }

    [Fact]
    public void RopeRotatesPairsAndKeepsNorm()
    {
        var head = Random(8, 9);
        float[] cos = [1, 0, MathF.Cos(0.3f), 0.5f], sin = [0, 1, MathF.Sin(0.3f), MathF.Sqrt(0.75f)];
        var interleaved = (float[])head.Clone();
        Ops.Rope(interleaved, cos, sin, interleaved: true);
        Assert.Equal(head[0], interleaved[0]);
        Assert.Equal(-head[3], interleaved[2], 6);
        Assert.Equal(head[2], interleaved[3], 6);
        var half = (float[])head.Clone();
        Ops.Rope(half, cos, sin, interleaved: false);
        Assert.Equal(-head[5], half[1], 6);
        Assert.Equal(head[1], half[5], 6);
        Assert.Equal(head.Sum(v => v * v), half.Sum(v => v * v), 4);
        Assert.Equal(head.Sum(v => v * v), interleaved.Sum(v => v * v), 4);
    }

    [Fact]
    public void WorkerPoolCoversEveryIndexOnce()
    {
        using var pool = new WorkerPool(3);
        for (int count = 0; count < 50; count++)
        {
            var hits = new int[count];
            pool.For(count, (s, e) => { for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]); });
            Assert.All(hits, h => Assert.Equal(1, h));
        }
        Assert.Throws<AggregateException>(() => pool.For(10, (s, e) => { if (s > 0) throw new InvalidOperationException("boom"); }));
        pool.For(4, (_, _) => { });
    }

    [Fact]
    public void WorkerPoolRebalancesAroundAStalledThread()
    {
        using var pool = new WorkerPool(2);
        var hits = new int[64];
        var callerRanges = 0;
        int caller = Environment.CurrentManagedThreadId;
        pool.For(64, (s, e) =>
        {
            if (Environment.CurrentManagedThreadId == caller)
                Interlocked.Increment(ref callerRanges);
            else
                Thread.Sleep(50); // the worker stalls on its first chunk: the caller takes the rest of its share
            for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]);
        });
        Assert.All(hits, h => Assert.Equal(1, h));
        Assert.True(callerRanges > 4, $"the caller ran {callerRanges} chunks");
        for (int round = 0; round < 2000; round++)
        {
            int count = round % 37 + 1;
            var once = new int[count];
            pool.For(count, (s, e) => { for (int i = s; i < e; i++) Interlocked.Increment(ref once[i]); });
            Assert.All(once, h => Assert.Equal(1, h));
        }
    }

    /// <summary>
    /// Back-to-back dispatches of changing sizes: every index runs exactly once, and nothing of one dispatch runs in the
    /// next. Before the fix a worker still finishing one dispatch could pair its exhausted cursor with the next
    /// dispatch's larger end and run the old action past its share (and credit its count to the new dispatch): in
    /// 400,000 dispatches, 2–15 indices done twice, up to 7 never done and 3–282 failed runs; this test (800,000, under
    /// a second) failed 3 runs in 4 on that code.
    /// </summary>
    [Fact]
    public void WorkerPoolNeverRunsAChunkTwiceAcrossDispatches()
    {
        int twice = 0, missed = 0, failures = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            using var pool = new WorkerPool(2);
            for (int round = 0; round < 2000; round++)
            {
                var once = new int[round % 37 + 1];
                try
                {
                    pool.For(once.Length, (s, e) => { for (int i = s; i < e; i++) Interlocked.Increment(ref once[i]); });
                }
                catch (AggregateException)
                {
                    failures++;
                }
                twice += once.Count(h => h > 1);
                missed += once.Count(h => h == 0);
            }
        }
        Assert.Equal((0, 0, 0), (twice, missed, failures));
    }

    [Fact]
    public void WorkerPoolWakesWorkersThatWentToSleep()
    {
        using var pool = new WorkerPool(3);
        for (int round = 0; round < 3; round++)
        {
            Thread.Sleep(30); // longer than the spin period: the workers block
            var hits = new int[9];
            pool.For(9, (s, e) => { for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]); });
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"at {i}: {actual[i]} vs {expected[i]}");
    }
}

[CollectionDefinition("Simd", DisableParallelization = true)]
public class SimdCollection;
