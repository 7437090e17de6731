using System.Diagnostics;
using Minnow.Tensors.Kernels;

namespace Minnow.Training;

public sealed unsafe partial class Tape
{
    /// <summary>silu(gate)·up (SwiGLU), elementwise over [n, F].</summary>
    public Act SwiGlu(Act gate, Act up) => Gated(gate, up, gelu: false);

    /// <summary>gelu_tanh(gate)·up (GeGLU: Gemma), elementwise over [n, F].</summary>
    public Act GeGlu(Act gate, Act up) => Gated(gate, up, gelu: true);

    private Act Gated(Act gate, Act up, bool gelu)
    {
        long start = Stopwatch.GetTimestamp();
        string kind = gelu ? "geglu" : "swiglu";
        if (gate.Rows != up.Rows || gate.Cols != up.Cols)
            throw new InvalidInputException($"{kind} of [{gate.Rows}, {gate.Cols}] and [{up.Rows}, {up.Cols}]");
        int cols = gate.Cols;
        var output = Allocate(gate.Rows, cols, RequiresGrad(gate) || RequiresGrad(up));
        float* g = ValuePointer(gate), u = ValuePointer(up), o = ValuePointer(output);
        Pool.For(gate.Rows, (first, end) =>
        {
            var os = new Span<float>(o + (long)first * cols, (end - first) * cols);
            new ReadOnlySpan<float>(g + (long)first * cols, os.Length).CopyTo(os);
            var us = new ReadOnlySpan<float>(u + (long)first * cols, os.Length);
            if (gelu) Ops.GeGlu(os, us); else Ops.SwiGlu(os, us);
        });
        Charge(kind, start);

        Record(kind, () =>
        {
            var dout = Gradient(output);
            if (dout.IsEmpty)
                return;
            fixed (float* pd = dout)
            {
                float* dg = GradientTarget(gate, out bool accumulateGate), du = GradientTarget(up, out bool accumulateUp);
                if (dg == null || du == null)
                {
                    // An input that needs no gradient still gets one, computed aside.
                    float* aside = Scratch(2L * gate.Length);
                    if (dg == null)
                    {
                        dg = aside;
                        accumulateGate = false;
                    }
                    if (du == null)
                    {
                        du = aside + gate.Length;
                        accumulateUp = false;
                    }
                }
                if (accumulateGate != accumulateUp)
                    new Span<float>(accumulateGate ? du : dg, gate.Length).Clear();
                float* d = pd;
                bool accumulate = accumulateGate || accumulateUp;
                Pool.For(gate.Rows, (first, end) =>
                {
                    long o0 = (long)first * cols;
                    int len = (end - first) * cols;
                    var gs = new ReadOnlySpan<float>(g + o0, len);
                    var us = new ReadOnlySpan<float>(u + o0, len);
                    var ds = new ReadOnlySpan<float>(d + o0, len);
                    if (gelu) OpsBackward.GeGlu(gs, us, ds, new Span<float>(dg + o0, len), new Span<float>(du + o0, len), accumulate);
                    else OpsBackward.SwiGlu(gs, us, ds, new Span<float>(dg + o0, len), new Span<float>(du + o0, len), accumulate);
                });
            }
        });
        return output;
    }

    /// <summary>gelu_tanh(x) elementwise (GPT-2's gelu_new), as a new activation.</summary>
    public Act GeluTanh(Act x)
    {
        long start = Stopwatch.GetTimestamp();
        int cols = x.Cols;
        var output = Allocate(x.Rows, cols, RequiresGrad(x));
        float* xs = ValuePointer(x), o = ValuePointer(output);
        Pool.For(x.Rows, (first, end) =>
        {
            var os = new Span<float>(o + (long)first * cols, (end - first) * cols);
            new ReadOnlySpan<float>(xs + (long)first * cols, os.Length).CopyTo(os);
            Ops.GeluTanh(os);
        });
        Charge("gelu", start);

        Record("gelu", () =>
        {
            var dout = Gradient(output);
            if (dout.IsEmpty)
                return;
            fixed (float* pd = dout)
            {
                float* dx = GradientTarget(x, out bool accumulate);
                if (dx == null)
                    return;
                float* d = pd;
                Pool.For(x.Rows, (first, end) =>
                {
                    long o0 = (long)first * cols;
                    int len = (end - first) * cols;
                    OpsBackward.GeluTanh(new ReadOnlySpan<float>(xs + o0, len), new ReadOnlySpan<float>(d + o0, len), new Span<float>(dx + o0, len), accumulate);
                });
            }
        });
        return output;
    }
}
