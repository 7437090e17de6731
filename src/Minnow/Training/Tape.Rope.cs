using System.Diagnostics;
using Minnow.Models;
using Minnow.Tensors.Kernels;

namespace Minnow.Training;

public sealed unsafe partial class Tape
{
    /// <summary>
    /// Rotary embeddings, in place: every head of row t of <paramref name="x"/> [S·T, heads·headSize] is rotated by
    /// the angles of position t mod T. RoPE is a rotation, so the backward pass rotates the gradient back (by −θ), also
    /// in place, and needs no saved values.
    /// </summary>
    public void Rope(Act x, int headSize, RopeTable table, RopeStyle style, int sequenceLength)
    {
        long start = Stopwatch.GetTimestamp();
        bool interleaved = style == RopeStyle.Interleaved;
        int heads = x.Cols / headSize;
        float* xs = ValuePointer(x);
        Pool.For(x.Rows, (first, end) => Rotate(xs, first, end, sense: 1));
        Charge("rope", start);

        Record("rope", () =>
        {
            var dx = Gradient(x);
            if (dx.IsEmpty)
                return;
            fixed (float* g = dx)
            {
                float* pg = g;
                Pool.For(x.Rows, (first, end) => Rotate(pg, first, end, sense: -1));
            }
        });

        void Rotate(float* rows, int first, int end, float sense)
        {
            Span<float> sin = stackalloc float[table.Pairs];
            for (int t = first; t < end; t++)
            {
                int position = t % sequenceLength;
                table.Sin(position).CopyTo(sin);
                if (sense < 0)
                    Ops.Scale(sin, -1f);
                for (int h = 0; h < heads; h++)
                    Ops.Rope(new Span<float>(rows + (long)t * x.Cols + h * headSize, headSize), table.Cos(position), sin, interleaved);
            }
        }
    }
}
