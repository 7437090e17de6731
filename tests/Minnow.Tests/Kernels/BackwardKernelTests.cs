using Minnow.Generation;
using System.Numerics;
using System.Runtime.Intrinsics;
using Minnow.Tensors.Kernels;

using static Minnow.Tests.Kernels.KernelTests;

namespace Minnow.Tests.Kernels;

/// <summary>The training kernels (backward passes, attention, cross-entropy, optimizer updates): every SIMD width against the scalar twins, on odd shapes.</summary>
[Collection("Simd")]
public unsafe class BackwardKernelTests
{
    public static IEnumerable<object[]> Widths() =>
        Enum.GetValues<SimdWidth>().Where(w => w <= Simd.Best).Select(w => new object[] { w });

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{what} at {i}: {actual[i]} vs {expected[i]}");
    }

    /// <summary>(tokens, out, in): tiny, odd, 16-column edges (in = 48), full 8×32 tiles and more rows than one contraction block.</summary>
    private static readonly (int Tokens, int Out, int In)[] Shapes = [(1, 1, 1), (3, 17, 5), (17, 65, 33), (9, 40, 48), (64, 96, 288), (13, 8, 70), (1100, 24, 16)];

    [Theory]
    [MemberData(nameof(Widths))]
    public void MatMulGradientsMatchScalar(SimdWidth width) => WithWidth(width, () =>
    {
        using var pool = new WorkerPool(2);
        foreach (var (n, outDim, inDim) in Shapes)
            foreach (bool accumulate in new[] { false, true })
            {
                var w = Random(outDim * inDim, 1);
                var x = Random(n * inDim, 2);
                var dy = Random(n * outDim, 3);
                var dxFast = Random(n * inDim, 4);
                var dxSlow = (float[])dxFast.Clone();
                var dwFast = Random(outDim * inDim, 5);
                var dwSlow = (float[])dwFast.Clone();
                fixed (float* pw = w, px = x, pdy = dy, pdxf = dxFast, pdxs = dxSlow, pdwf = dwFast, pdws = dwSlow)
                {
                    MatMulBackward.InputGradient(pw, pdy, pdxf, n, outDim, inDim, accumulate, pool);
                    MatMulBackward.InputGradientScalar(pw, pdy, pdxs, n, outDim, inDim, accumulate);
                    MatMulBackward.WeightGradient(pdy, px, pdwf, n, outDim, inDim, pool);
                    MatMulBackward.WeightGradientScalar(pdy, px, pdws, n, outDim, inDim);
                }
                string shape = $"{width} tokens={n} out={outDim} in={inDim}";
                AssertClose(dxSlow, dxFast, 1e-5 * Math.Sqrt(outDim), "dx " + shape);
                AssertClose(dwSlow, dwFast, 1e-5 * Math.Sqrt(n), "dw " + shape);
            }
    });

    [Fact]
    public void MatMulGradientsAreIdenticalForAnyThreadCount()
    {
        const int n = 300, outDim = 70, inDim = 96;
        var w = Random(outDim * inDim, 1);
        var x = Random(n * inDim, 2);
        var dy = Random(n * outDim, 3);
        (float[] Dx, float[] Dw) Run(int threads)
        {
            using var pool = new WorkerPool(threads);
            var dx = new float[n * inDim];
            var dw = new float[outDim * inDim];
            fixed (float* pw = w, px = x, pdy = dy, pdx = dx, pdw = dw)
            {
                MatMulBackward.InputGradient(pw, pdy, pdx, n, outDim, inDim, false, pool);
                MatMulBackward.WeightGradient(pdy, px, pdw, n, outDim, inDim, pool);
            }
            return (dx, dw);
        }
        var one = Run(1);
        foreach (int threads in new[] { 2, 3 })
        {
            var many = Run(threads);
            Assert.Equal(one.Dx, many.Dx);
            Assert.Equal(one.Dw, many.Dw);
        }
    }

    /// <summary>(sequences, T, heads, kvHeads, headDim, softCap, window, fused q/k/v rows).</summary>
    public static IEnumerable<object[]> AttentionCases()
    {
        foreach (var w in Widths())
        {
            yield return [w[0], 2, 7, 4, 2, 16, 0f, 0, false];
            yield return [w[0], 1, 70, 2, 2, 48, 0f, 0, false];     // two query blocks, 16-column edge
            yield return [w[0], 2, 9, 4, 1, 8, 0.5f, 0, false];
            yield return [w[0], 1, 12, 2, 1, 16, 0f, 5, false];
            yield return [w[0], 2, 6, 2, 2, 32, 0f, 0, true];
        }
    }

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void AttentionMatchesScalar(SimdWidth width, int sequences, int t, int heads, int kvHeads, int hd, float softCap, int window, bool fused) => WithWidth(width, () =>
    {
        using var pool = new WorkerPool(2);
        int n = sequences * t, qDim = heads * hd, kvDim = kvHeads * hd;
        int qStride = fused ? qDim + 2 * kvDim : qDim, kvStride = fused ? qStride : kvDim;
        var q = Random(n * qStride, 1);
        var k = fused ? q : Random(n * kvStride, 2);
        var v = fused ? q : Random(n * kvStride, 3);
        int kOffset = fused ? qDim : 0, vOffset = fused ? qDim + kvDim : 0;
        var dout = Random(n * qDim, 4);
        float[] RunForward(bool scalar, float[] output, float[] probabilities, float[] slopes)
        {
            fixed (float* pq = q, pk = k, pv = v, po = output, pp = probabilities, ps = slopes)
            {
                var args = new CausalAttentionArgs
                {
                    Queries = pq, Keys = pk + kOffset, Values = pv + vOffset, QueryStride = qStride, KeyValueStride = kvStride,
                    Output = po, Probabilities = pp, SoftCapSlopes = ps,
                    Sequences = sequences, SequenceLength = t, Heads = heads, KvHeads = kvHeads, HeadDim = hd,
                    Scale = 1f / MathF.Sqrt(hd), SoftCap = softCap, Window = window,
                };
                if (scalar) CausalAttention.ForwardScalar(args); else CausalAttention.Forward(args, pool);
            }
            return output;
        }
        float[] RunBackward(bool scalar, float[] probabilities, float[] slopes)
        {
            var dq = new float[q.Length];
            var dk = fused ? dq : new float[k.Length];
            var dv = fused ? dq : new float[v.Length];
            fixed (float* pq = q, pk = k, pv = v, pp = probabilities, ps = slopes, pdo = dout, pdq = dq, pdk = dk, pdv = dv)
            {
                var args = new CausalAttentionArgs
                {
                    Queries = pq, Keys = pk + kOffset, Values = pv + vOffset, QueryStride = qStride, KeyValueStride = kvStride,
                    Probabilities = pp, SoftCapSlopes = ps, OutputGradient = pdo,
                    QueryGradient = pdq, KeyGradient = pdk + kOffset, ValueGradient = pdv + vOffset,
                    Sequences = sequences, SequenceLength = t, Heads = heads, KvHeads = kvHeads, HeadDim = hd,
                    Scale = 1f / MathF.Sqrt(hd), SoftCap = softCap, Window = window,
                };
                if (scalar) CausalAttention.BackwardScalar(args); else CausalAttention.Backward(args, pool);
            }
            return [.. dq, .. fused ? [] : dk, .. fused ? [] : dv];
        }
        int pLength = sequences * heads * t * t;
        float[] pFast = new float[pLength], pSlow = new float[pLength], sFast = new float[pLength], sSlow = new float[pLength];
        var fast = RunForward(false, new float[n * qDim], pFast, sFast);
        var slow = RunForward(true, new float[n * qDim], pSlow, sSlow);
        string what = $"{width} S={sequences} T={t} heads={heads}/{kvHeads} hd={hd} cap={softCap} window={window} fused={fused}";
        AssertClose(slow, fast, 1e-5, "output " + what);
        AssertClose(pSlow, pFast, 1e-5, "probabilities " + what);
        AssertClose(RunBackward(true, pSlow, sSlow), RunBackward(false, pSlow, sSlow), 2e-5, "gradients " + what);
    });

    public static IEnumerable<object[]> WidthsAndLengths() =>
        from w in Widths() from n in new[] { 1, 17, 288, 1030 } select new[] { w[0], n };

    [Theory]
    [MemberData(nameof(WidthsAndLengths))]
    public void RowBackwardsMatchScalarTwins(SimdWidth width, int n) => WithWidth(width, () =>
    {
        var x = Random(n, 1);
        var w = Random(n, 2);
        var dy = Random(n, 3);
        var up = Random(n, 4);
        foreach (bool accumulate in new[] { false, true })
        {
            foreach (float offset in new[] { 0f, 1f })
            {
                float[] dxF = Random(n, 5), dxS = (float[])dxF.Clone(), dwF = Random(n, 6), dwS = (float[])dwF.Clone();
                OpsBackward.RmsNorm(x, w, offset, 0.7f, dy, dxF, accumulate, dwF);
                ScalarOpsBackward.RmsNorm(x, w, offset, 0.7f, dy, dxS, accumulate, dwS);
                AssertClose(dxS, dxF, 1e-5, "rmsnorm dx");
                AssertClose(dwS, dwF, 1e-5, "rmsnorm dw");
            }
            {
                float[] dxF = Random(n, 5), dxS = (float[])dxF.Clone(), dwF = Random(n, 6), dwS = (float[])dwF.Clone(), dbF = Random(n, 7), dbS = (float[])dbF.Clone();
                OpsBackward.LayerNorm(x, w, 0.1f, 1.3f, dy, dxF, accumulate, dwF, dbF);
                ScalarOpsBackward.LayerNorm(x, w, 0.1f, 1.3f, dy, dxS, accumulate, dwS, dbS);
                AssertClose(dxS, dxF, 1e-5, "layernorm dx");
                AssertClose(dwS, dwF, 1e-5, "layernorm dw");
                AssertClose(dbS, dbF, 1e-5, "layernorm db");
            }
            foreach (bool gelu in new[] { false, true })
            {
                float[] dgF = Random(n, 5), dgS = (float[])dgF.Clone(), duF = Random(n, 6), duS = (float[])duF.Clone();
                if (gelu)
                {
                    OpsBackward.GeGlu(x, up, dy, dgF, duF, accumulate);
                    ScalarOpsBackward.GeGlu(x, up, dy, dgS, duS, accumulate);
                }
                else
                {
                    OpsBackward.SwiGlu(x, up, dy, dgF, duF, accumulate);
                    ScalarOpsBackward.SwiGlu(x, up, dy, dgS, duS, accumulate);
                }
                AssertClose(dgS, dgF, 1e-5, gelu ? "geglu dgate" : "swiglu dgate");
                AssertClose(duS, duF, 1e-5, gelu ? "geglu dup" : "swiglu dup");
            }
            {
                float[] dxF = Random(n, 5), dxS = (float[])dxF.Clone();
                OpsBackward.GeluTanh(x, dy, dxF, accumulate);
                ScalarOpsBackward.GeluTanh(x, dy, dxS, accumulate);
                AssertClose(dxS, dxF, 1e-5, "gelu dx");
            }
        }
    });

    [Fact]
    public void FastExpIsWithinTwoUlpOfExp()
    {
        double worst512 = 0, worstPortable = 0;
        for (float x = -87f; x <= 88f; x += 0.00731f)
        {
            double exact = Math.Exp(x);
            worst512 = Math.Max(worst512, Math.Abs(FastExp.Exp(Vector512.Create(x)).GetElement(0) - exact) / exact);
            worstPortable = Math.Max(worstPortable, Math.Abs(FastExp.Exp(new Vector<float>(x))[0] - exact) / exact);
        }
        Assert.True(worst512 < 2.4e-7 && worstPortable < 2.4e-7, $"relative errors {worst512:E2} and {worstPortable:E2}");
        // Far outside the range the result saturates instead of reaching 0 or ∞.
        Assert.True(FastExp.Exp(Vector512.Create(-1000f)).GetElement(0) is > 0 and < 1e-37f);
        Assert.True(float.IsFinite(FastExp.Exp(Vector512.Create(1000f)).GetElement(0)));
    }

    /// <summary>The fused activation and LayerNorm forwards (Ops, shared with inference) at every width against ScalarOps.</summary>
    [Theory]
    [MemberData(nameof(WidthsAndLengths))]
    public void ActivationsMatchScalarTwins(SimdWidth width, int n) => WithWidth(width, () =>
    {
        var x = Random(n, 1).Select(v => 3 * v).ToArray();
        var up = Random(n, 2);
        foreach (var (name, fast, slow) in new (string, Action<float[]>, Action<float[]>)[]
        {
            ("swiglu", g => Ops.SwiGlu(g, up), g => ScalarOps.SwiGlu(g, up)),
            ("geglu", g => Ops.GeGlu(g, up), g => ScalarOps.GeGlu(g, up)),
            ("gelu", g => Ops.GeluTanh(g), g => ScalarOps.GeluTanh(g)),
        })
        {
            float[] a = (float[])x.Clone(), b = (float[])x.Clone();
            fast(a);
            slow(b);
            AssertClose(b, a, 1e-5, $"{name} {width} n={n}");
        }
        float[] fastNorm = new float[n], slowNorm = new float[n];
        var (mean, rstd) = Ops.LayerNorm(x, up, x, 1e-5f, fastNorm);
        ScalarOps.LayerNorm(x, up, x, 1e-5f, slowNorm);
        AssertClose(slowNorm, fastNorm, 1e-5, $"layernorm {width} n={n}");
        Assert.Equal(x.Average(), mean, 4);
        Assert.True(rstd > 0);
    });

    [Theory]
    [InlineData(1, 0)]
    [InlineData(65, 64)]
    [InlineData(32000, 17)]
    public void CrossEntropyMatchesScalar(int vocab, int target)
    {
        var fast = Random(vocab, 1);
        for (int i = 0; i < vocab; i++) fast[i] *= 4;
        var slow = (float[])fast.Clone();
        float lossFast = SoftmaxCrossEntropy.LossAndGradient(fast, target, 0.25f);
        float lossSlow = SoftmaxCrossEntropy.LossAndGradientScalar(slow, target, 0.25f);
        Assert.True(Math.Abs(lossFast - lossSlow) <= 1e-5 * (1 + lossSlow), $"loss {lossFast} vs {lossSlow}");
        AssertClose(slow, fast, 1e-5, "dlogits");
        Assert.True(Math.Abs(fast.Sum()) < 1e-4, "the gradient of a softmax sums to zero");
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void OptimizerUpdatesMatchScalar(SimdWidth width) => WithWidth(width, () =>
    {
        const int n = 1037;
        var g = Random(n, 1);
        float[] pF = Random(n, 2), pS = (float[])pF.Clone(), mF = Random(n, 3), mS = (float[])mF.Clone(), vF = Random(n, 4).Select(Math.Abs).ToArray(), vS = (float[])vF.Clone();
        OptimizerUpdates.AdamW(pF, g, mF, vF, 0.999f, 0.9f, 0.95f, 1e-3f, 1.3f, 1e-8f);
        ScalarOptimizerUpdates.AdamW(pS, g, mS, vS, 0.999f, 0.9f, 0.95f, 1e-3f, 1.3f, 1e-8f);
        AssertClose(pS, pF, 1e-6, "adamw p");
        AssertClose(mS, mF, 1e-6, "adamw m");
        AssertClose(vS, vF, 1e-6, "adamw v");
        float[] bF = Random(n, 5), bS = (float[])bF.Clone();
        pS = (float[])pF.Clone();
        OptimizerUpdates.Sgd(pF, g, bF, 0.01f, 0.9f, 0.1f);
        ScalarOptimizerUpdates.Sgd(pS, g, bS, 0.01f, 0.9f, 0.1f);
        AssertClose(pS, pF, 1e-6, "sgd p");
        AssertClose(bS, bF, 1e-6, "sgd buffer");
    });
}
