using ControlPlane.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Tests;

/// <summary>
/// The engine's tensor ops beside a thread that collects garbage without pause: none may read a scalar the finalizer
/// freed. TorchSharp's own <c>a + a</c> and <c>a.square()</c> fail here (26 and 31 times in 8 s on the 2-core VM, with
/// "INTERNAL ASSERT FAILED at c10/core/Scalar.h"): their temporary scalars are garbage once the native call has their
/// handles. An engine step failed the same way under load ("engine step failed: ... toFloat"), which <see cref="TorchOps"/> fixes.
/// </summary>
public sealed class ScalarLifetimeTests
{
    private static readonly Scalar Held = 0.5;

    public static TheoryData<string> Ops => ["Plus tensor", "Plus scalar", "Minus", "Squared", "Arange", "times held scalar", "clamp_max held", "masked_fill held"];

    [Theory]
    [MemberData(nameof(Ops))]
    public void EngineOp_BesideACollectingThread_NeverFails(string op)
    {
        using var a = randn(128, 128);
        using var mask = a.gt(a.mean());
        var stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        });
        collector.Start();
        var failures = new List<string>();
        var runs = 0;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            for (; watch.Elapsed < TimeSpan.FromSeconds(1.5); runs++)
            {
                try
                {
                    using var result = op switch
                    {
                        "Plus tensor" => a.Plus(a),
                        "Plus scalar" => a.Plus(Held),
                        "Minus" => a.Minus(a),
                        "Squared" => a.Squared(),
                        "Arange" => TorchOps.Arange(512, ScalarType.Int64),
                        "times held scalar" => a * Held,
                        "clamp_max held" => a.clamp_max(Held),
                        _ => a.masked_fill(mask, Held),
                    };
                }
                catch (Exception ex) when (failures.Count < 3)
                {
                    failures.Add(ex.Message.Split('\n')[0]);
                }
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        Assert.True(runs > 100, $"only {runs} runs: the test proved little");
        Assert.Empty(failures);
    }

    [Fact]
    public void Ops_GiveTheOperatorsResults()
    {
        float[] left = [1, 2, 3], right = [4, 5, 7], sum = [5, 7, 10], plusHalf = [1.5f, 2.5f, 3.5f], difference = [-3, -3, -4], squares = [1, 4, 9];
        long[] range = [0, 1, 2, 3];
        using var a = tensor(left);
        using var b = tensor(right);
        Assert.Equal(sum, a.Plus(b).data<float>().ToArray());
        Assert.Equal(plusHalf, a.Plus(Held).data<float>().ToArray());
        Assert.Equal(difference, a.Minus(b).data<float>().ToArray());
        Assert.Equal(squares, a.Squared().data<float>().ToArray());
        Assert.Equal(range, TorchOps.Arange(4, ScalarType.Int64).data<long>().ToArray());
    }
}
