namespace Minnow.Tensors.Kernels;

/// <summary>
/// y = x·Wᵀ for a weight matrix W [out, in] (PyTorch's Linear layout) and activations x [tokens, in], giving
/// y [tokens, out]. A few tokens (decode) go through <see cref="RowTiles"/>, which streams W at memory speed; a batch
/// (prompt processing, training) goes through the packed GEMM in <see cref="PackedGemm"/>. Work is split across the
/// pool by output rows, so each thread reads its own slice of W exactly once. Several matrices that read the same
/// input (q/k/v, gate/up) can run as one parallel section, which halves the dispatches of a decode step and packs a
/// batch's input once. Results are identical for any thread count.
/// </summary>
public static unsafe class MatMul
{
    /// <summary>
    /// From this many tokens on, the packed GEMM is used: it reads the weights once per token block, where the row
    /// tiles read them once per 4 tokens, and its register tile shares each load across 8 rows × 16 or 32 tokens.
    /// </summary>
    internal const int PackedMinTokens = 8;

    /// <summary>y[t, o] = Σᵢ x[t, i]·W[o, i] for t &lt; tokens.</summary>
    public static void Compute(Tensor w, ReadOnlySpan<float> x, Span<float> y, int tokens, WorkerPool pool)
    {
        if (w.DType != DType.F32)
        {
            QuantizedMatMul.Compute(w, x, y, tokens, pool);
            return;
        }
        var p = Begin();
        p.Add(w, y, tokens);
        fixed (float* px = x, py = y)
        {
            p.Y[0] = py;
            Run(p, px, x.Length, tokens, pool);
        }
    }

    /// <summary>y0 = x·W0ᵀ and y1 = x·W1ᵀ (e.g. the gate and up projections) in one parallel section.</summary>
    public static void Compute(ReadOnlySpan<float> x, int tokens, WorkerPool pool, Tensor w0, Span<float> y0, Tensor w1, Span<float> y1)
    {
        if (w0.DType != DType.F32 || w1.DType != DType.F32)
        {
            if (QuantizedMatMul.Supports(w0.DType) && QuantizedMatMul.Supports(w1.DType))
                QuantizedMatMul.Compute(x, tokens, pool, w0, y0, w1, y1);
            else
            {
                Compute(w0, x, y0, tokens, pool);
                Compute(w1, x, y1, tokens, pool);
            }
            return;
        }
        var p = Begin();
        p.Add(w0, y0, tokens);
        p.Add(w1, y1, tokens);
        fixed (float* px = x, p0 = y0, p1 = y1)
        {
            p.Y[0] = p0;
            p.Y[1] = p1;
            Run(p, px, x.Length, tokens, pool);
        }
    }

    /// <summary>y0 = x·W0ᵀ, y1 = x·W1ᵀ and y2 = x·W2ᵀ (e.g. the q, k and v projections) in one parallel section.</summary>
    public static void Compute(ReadOnlySpan<float> x, int tokens, WorkerPool pool, Tensor w0, Span<float> y0, Tensor w1, Span<float> y1, Tensor w2, Span<float> y2)
    {
        if (w0.DType != DType.F32 || w1.DType != DType.F32 || w2.DType != DType.F32)
        {
            if (QuantizedMatMul.Supports(w0.DType) && QuantizedMatMul.Supports(w1.DType) && QuantizedMatMul.Supports(w2.DType))
                QuantizedMatMul.Compute(x, tokens, pool, w0, y0, w1, y1, w2, y2);
            else
            {
                Compute(w0, x, y0, tokens, pool);
                Compute(w1, x, y1, tokens, pool);
                Compute(w2, x, y2, tokens, pool);
            }
            return;
        }
        var p = Begin();
        p.Add(w0, y0, tokens);
        p.Add(w1, y1, tokens);
        p.Add(w2, y2, tokens);
        fixed (float* px = x, p0 = y0, p1 = y1, p2 = y2)
        {
            p.Y[0] = p0;
            p.Y[1] = p1;
            p.Y[2] = p2;
            Run(p, px, x.Length, tokens, pool);
        }
    }

    /// <summary>The scalar twin of <see cref="Compute(Tensor, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/>.</summary>
    public static void Scalar(Tensor w, ReadOnlySpan<float> x, Span<float> y, int tokens)
    {
        int outDim = w.Rows, inDim = w.Columns;
        var wf = w.AsFloats();
        for (int t = 0; t < tokens; t++)
            for (int o = 0; o < outDim; o++)
            {
                float sum = 0;
                for (int i = 0; i < inDim; i++)
                    sum += x[t * inDim + i] * wf[o * inDim + i];
                y[t * outDim + o] = sum;
            }
    }

    /// <summary>
    /// Up to 3 matrices sharing one input; their units (row tiles, or GEMM row blocks) are numbered one after another,
    /// so one parallel section covers them all. One instance per calling thread is reused, so a call allocates nothing.
    /// </summary>
    private sealed class Products
    {
        public const int Capacity = 3;
        public readonly float*[] W = new float*[Capacity];
        public readonly float*[] Y = new float*[Capacity];
        public readonly int[] Rows = new int[Capacity];
        /// <summary>First unit of each matrix; Units[Count] is the total.</summary>
        public readonly int[] Units = new int[Capacity + 1];
        public int Count, InDim, Tokens;
        public float* X;
        public float* Packed;
        public SimdWidth Simd;
        public readonly RangeAction RowTiles, Pack, Multiply;

        public Products()
        {
            RowTiles = RunRowTiles;
            Pack = RunPack;
            Multiply = RunMultiply;
        }

        public void Add(Tensor w, Span<float> y, int tokens)
        {
            if (w.DType != DType.F32)
                throw new NotSupportedException($"matmul with '{w.Name}': {w.DType} weights are not supported by this kernel");
            if (Count > 0 && w.Columns != InDim)
                throw new ArgumentException($"matmul with '{w.Name}' [{w.Rows}, {w.Columns}]: expected {InDim} input features like the other matrices");
            if (y.Length < (long)tokens * w.Rows)
                throw new ArgumentException($"matmul with '{w.Name}' [{w.Rows}, {w.Columns}]: output too small for {tokens} tokens");
            InDim = w.Columns;
            W[Count] = w.FloatPointer;
            Rows[Count] = w.Rows;
            Count++;
        }

        public void Number(int rowsPerUnit)
        {
            for (int j = 0; j < Count; j++)
                Units[j + 1] = Units[j] + (Rows[j] + rowsPerUnit - 1) / rowsPerUnit;
        }

        private void RunRowTiles(int start, int end)
        {
            for (int j = 0; j < Count; j++)
            {
                int s = Math.Max(start, Units[j]), e = Math.Min(end, Units[j + 1]);
                if (s < e)
                    Kernels.RowTiles.Run(W[j], X, Y[j], Rows[j], InDim, Tokens, s - Units[j], e - Units[j]);
            }
        }

        private void RunPack(int start, int end) =>
            PackedGemm.PackActivations(X, Tokens, InDim, PackedGemm.Tile(Simd).NR, Simd, Packed, start, end);

        private void RunMultiply(int start, int end)
        {
            for (int j = 0; j < Count; j++)
            {
                int s = Math.Max(start, Units[j]), e = Math.Min(end, Units[j + 1]);
                if (s < e)
                    PackedGemm.Multiply(W[j], Packed, Y[j], Tokens, Rows[j], InDim, Simd, s - Units[j], e - Units[j]);
            }
        }
    }

    [ThreadStatic] private static Products? _products;

    [ThreadStatic] private static float[]? _packedActivations;

    private static Products Begin()
    {
        var p = _products ??= new Products();
        p.Count = 0;
        return p;
    }

    private static void Run(Products products, float* x, int xLength, int tokens, WorkerPool pool)
    {
        if (xLength < (long)tokens * products.InDim)
            throw new ArgumentException($"matmul: input too small for {tokens} tokens of {products.InDim} features");
        products.X = x;
        products.Tokens = tokens;
        products.Simd = Simd.Active;
        if (tokens < PackedMinTokens || products.Simd == SimdWidth.Scalar)
        {
            products.Number(Kernels.RowTiles.Rows);
            pool.For(products.Units[products.Count], products.RowTiles);
            return;
        }

        var (mr, nr) = PackedGemm.Tile(products.Simd);
        long length = PackedGemm.PackedLength(tokens, products.InDim, nr);
        if (_packedActivations is null || _packedActivations.Length < length)
            _packedActivations = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
        fixed (float* packed = _packedActivations)
        {
            products.Packed = packed;
            products.Number(mr);
            pool.For(PackedGemm.Panels(tokens, nr), products.Pack);
            pool.For(products.Units[products.Count], products.Multiply);
        }
    }
}
