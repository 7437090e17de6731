using System.Diagnostics;
using System.Numerics.Tensors;
using Minnow.Tensors.Kernels;
using Tensor = Minnow.Tensors.Tensor;

namespace Minnow.Training;

public sealed unsafe partial class Tape
{
    /// <summary>
    /// x[t] = scale·table[tokens[t]] + positions[t mod sequenceLength] → [n, D]: token embeddings (Gemma scales them by
    /// sqrt(D)) plus, for GPT-2, learned position embeddings. Backward: dtable[tokens[t]] += scale·dx[t];
    /// dpositions[t mod T] += dx[t], in token order (deterministic).
    /// </summary>
    public Act Embedding(int[] tokens, Tensor table, float scale = 1f, Tensor? positions = null, int sequenceLength = 0)
    {
        long start = Stopwatch.GetTimestamp();
        int n = tokens.Length, d = table.Columns;
        if (positions is not null && (sequenceLength <= 0 || sequenceLength > positions.Rows || positions.Columns != d))
            throw new InvalidInputException($"sequences of {sequenceLength} tokens do not fit position embeddings [{positions.Rows}, {positions.Columns}]");
        var dTable = GradientOf(table);
        var dPositions = GradientOf(positions);
        var x = Allocate(n, d, dTable is not null || dPositions is not null);
        var xv = Value(x);
        for (int t = 0; t < n; t++)
        {
            var row = xv.Slice(t * d, d);
            TensorRows.Copy(table, tokens[t], row);
            if (scale != 1f)
                Ops.Scale(row, scale);
            if (positions is not null)
                Ops.Add(row, positions.Row(t % sequenceLength));
        }
        Charge("embedding", start);

        Record("embedding", () =>
        {
            var dx = Gradient(x);
            if (dx.IsEmpty)
                return;
            for (int t = 0; t < n; t++)
            {
                var g = dx.Slice(t * d, d);
                if (dTable is not null)
                    TensorPrimitives.MultiplyAdd(g, scale, dTable.AsFloats().Slice(tokens[t] * d, d), dTable.AsFloats().Slice(tokens[t] * d, d));
                if (dPositions is not null)
                    Ops.Add(dPositions.AsFloats().Slice(t % sequenceLength * d, d), g);
            }
        });
        return x;
    }
}
