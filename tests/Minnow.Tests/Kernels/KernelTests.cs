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

    private static float[] Random(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rng.NextGaussian();
        return x;
    }

    private static void WithWidth(SimdWidth width, Action body)
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

    [Theory]
    [MemberData(nameof(Widths))]
    public void MatMulMatchesScalar(SimdWidth width) => WithWidth(width, () =>
    {
        using var pool = new WorkerPool(2);
        foreach (var (outDim, inDim, tokens) in new[] { (1, 1, 1), (3, 17, 1), (17, 65, 3), (65, 33, 17), (8, 64, 4), (5, 300, 9) })
        {
            var w = Tensor.FromFloats("w", Random(outDim * inDim, 3), outDim, inDim);
            var x = Random(tokens * inDim, 4);
            var fast = new float[tokens * outDim];
            var slow = new float[tokens * outDim];
            MatMul.Compute(w, x, fast, tokens, pool);
            MatMul.Scalar(w, x, slow, tokens);
            for (int i = 0; i < fast.Length; i++)
                Assert.True(Math.Abs(fast[i] - slow[i]) < 1e-4f * Math.Sqrt(inDim), $"[{outDim}x{inDim}]x{tokens} at {i}: {fast[i]} vs {slow[i]}");
        }
    });

    [Fact]
    public void MatMulIsIdenticalForAnyThreadCount()
    {
        var w = Tensor.FromFloats("w", Random(67 * 129, 5), 67, 129);
        var x = Random(7 * 129, 6);
        float[] Run(int threads)
        {
            using var pool = new WorkerPool(threads);
            var y = new float[7 * 67];
            MatMul.Compute(w, x, y, 7, pool);
            return y;
        }
        Assert.Equal(Run(1), Run(2));
        Assert.Equal(Run(1), Run(3));
    }

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

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"at {i}: {actual[i]} vs {expected[i]}");
    }
}

[CollectionDefinition("Simd", DisableParallelization = true)]
public class SimdCollection;
