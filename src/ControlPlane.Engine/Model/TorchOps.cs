using TorchSharp;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Model;

/// <summary>
/// Tensor arithmetic without temporary scalars. TorchSharp 0.107's <see cref="Scalar"/> has a finalizer and no dispose
/// scope, and its operators make temporary ones: the alpha of 1 that <c>a + b</c> and <c>x + scalar</c> pass, the 2 of
/// <c>square()</c> (a <c>pow(2)</c>), the start and step of <c>arange(n)</c>. Once the native call has the scalar's
/// handle, the managed object is garbage; the GC's finalizer thread may free the native scalar while the op still reads
/// it, which fails the op ("INTERNAL ASSERT FAILED at c10/core/Scalar.h", or a check in <c>toFloat</c>) or reads freed
/// memory. A thread that collects beside 200,000 <c>a + a</c> and <c>a.square()</c> reproduced it 62 times
/// (<c>ScalarLifetimeTests</c>); an engine step fails the same way under allocation pressure. These take held scalars.
/// </summary>
public static class TorchOps
{
    // Statics: rooted for the process's life, so never finalized.
    private static readonly Scalar One = 1;
    private static readonly Scalar Zero = 0;

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + b</c> for a scalar the caller holds.</summary>
    public static Tensor Plus(this Tensor a, Scalar b) => a.add(b, One);

    /// <summary><c>a - b</c> (TorchSharp's <c>sub</c> passes no alpha: named here so that every op of the engine is one of these).</summary>
    public static Tensor Minus(this Tensor a, Tensor b) => a.sub(b);

    /// <summary><c>a * a</c> (not <c>square()</c>, which is <c>pow(2)</c> with a temporary 2).</summary>
    public static Tensor Squared(this Tensor a) => a.mul(a);

    /// <summary><c>0, 1, ..., count - 1</c>.</summary>
    public static Tensor Arange(long count, ScalarType dtype, Device? device = null)
    {
        using var stop = (Scalar)count; // held through the call
        return arange(Zero, stop, One, dtype, device);
    }
}
