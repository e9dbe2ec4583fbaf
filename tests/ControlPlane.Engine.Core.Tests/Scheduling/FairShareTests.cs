using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Requests;

namespace ControlPlane.Engine.Core.Tests.Scheduling;

/// <summary>
/// Fair shares between tenants on one instance (the Virtual Token Counter): a tenant flooding at ten times its share
/// cannot starve another. Time is counted in engine steps, so the figures do not depend on the machine.
/// </summary>
public class FairShareTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Steps = 600;

    /// <summary>
    /// Runs tenant b (one request every 8 steps) alone or beside tenant a's flood, and returns b's time to first token
    /// of each request, in steps. The instance holds 16 running requests of 17 steps each: about 0.94 requests a step,
    /// a share of 0.47 each; a sends 4.7 a step, ten times its share. <paramref name="oneTenant"/> names both "": no
    /// fairness between them (the plain order by arrival).
    /// </summary>
    private static (List<int> TtftB, long FairnessPreemptions, int FinishedA) Run(bool flood, bool oneTenant = false)
    {
        // A margin of two steps' decode service at this batch (16 × 2 × 2): the default's 1,024 is about two steps at 256.
        var core = new CoreHarness(blocks: 4096, blockSize: 4, maxBatchedTokens: 512, maxRunning: 16, fairnessMargin: 64);
        var arrived = new Dictionary<string, int>(StringComparer.Ordinal);
        var ttft = new List<int>();
        var finishedA = 0;
        var a = 0;
        for (var step = 0; step < Steps; step++)
        {
            if (step % 8 == 0)
            {
                var id = $"b{step}";
                core.Engine.Add(CoreHarness.Request(id, 32, 16, seed: step) with { Tenant = oneTenant ? "" : "b" });
                arrived[id] = step;
            }
            if (flood)
            {
                // 4.7 a step: 47 every 10 steps.
                for (var k = 0; k < (step % 10 < 7 ? 5 : 4); k++)
                    core.Engine.Add(CoreHarness.Request($"a{a++}", 32, 16, seed: 100_000 + a) with { Tenant = oneTenant ? "" : "a" });
            }
            foreach (var output in core.Step().Outputs)
            {
                if (output.RequestId.StartsWith('b') && output.CompletionTokens == 1)
                    ttft.Add(step - arrived[output.RequestId] + 1);
                if (output.RequestId.StartsWith('a') && output.FinishReason != FinishReason.None)
                    finishedA++;
            }
        }
        return (ttft, core.Engine.Scheduler.FairnessPreemptions, finishedA);
    }

    private static int P99(List<int> values)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Ceiling(0.99 * sorted.Count) - 1];
    }

    [Fact]
    public void Flood_TenAtimesItsShare_OtherTenantsP99TtftStaysWithinTwiceItsValueAlone()
    {
        var alone = Run(flood: false);
        var fair = Run(flood: true);
        output.WriteLine($"b p99 TTFT alone {P99(alone.TtftB)} steps, beside a's flood {P99(fair.TtftB)} steps (p50 {fair.TtftB.Order().ElementAt(fair.TtftB.Count / 2)}); " +
            $"{fair.FairnessPreemptions} fairness preemptions; a finished {fair.FinishedA} of its requests in {Steps} steps");
        Assert.True(alone.TtftB.Count >= 70 && fair.TtftB.Count >= 70, $"b got first tokens for {alone.TtftB.Count} alone, {fair.TtftB.Count} beside the flood");
        Assert.True(P99(fair.TtftB) <= 2 * P99(alone.TtftB),
            $"b's p99 TTFT: {P99(fair.TtftB)} steps beside the flood, {P99(alone.TtftB)} alone; {fair.FairnessPreemptions} fairness preemptions");
        // The flood is still served with what b leaves: the instance is not idled by fairness.
        Assert.True(fair.FinishedA > Steps * 0.7, $"a finished only {fair.FinishedA} requests in {Steps} steps");
    }

    [Fact]
    public void Flood_WithoutFairShares_StarvesTheOtherTenant()
    {
        // The same load with both as one tenant: b waits behind a's whole backlog. This is what the test above guards.
        var alone = Run(flood: false, oneTenant: true);
        var unfair = Run(flood: true, oneTenant: true);
        output.WriteLine($"one tenant: b p99 TTFT {(unfair.TtftB.Count == 0 ? "none" : P99(unfair.TtftB))} steps beside the flood ({unfair.TtftB.Count} first tokens), {P99(alone.TtftB)} alone");
        Assert.True(unfair.TtftB.Count < 10 || P99(unfair.TtftB) > 10 * P99(alone.TtftB),
            $"b's p99 TTFT without fair shares: {(unfair.TtftB.Count == 0 ? "none" : P99(unfair.TtftB))} steps ({unfair.TtftB.Count} first tokens), {P99(alone.TtftB)} alone");
    }

    [Fact]
    public void Queue_TwoTenants_AdmitsTheLeastServedAndLiftsAReturningTenant()
    {
        var queue = new FairWaitingQueue();
        var a1 = Request("a1", "a", 0);
        var a2 = Request("a2", "a", 1);
        var b1 = Request("b1", "b", 2);
        queue.Add(a1);
        queue.Add(a2);
        Assert.Same(a1, queue.Next());
        queue.Remove(a1);
        queue.Charge(a1, 100, 10); // a served: 100 + 2×10
        Assert.Equal(120, queue.CounterOf("a"));
        // b joins: lifted to the least-served waiting tenant's counter (a's), no credit for its idle time; a tie goes by arrival.
        queue.Add(b1);
        Assert.Equal(120, queue.CounterOf("b"));
        Assert.Same(a2, queue.Next());
        queue.Charge(a2, 1, 0);
        Assert.Same(b1, queue.Next());
        // With a return credit, a tenant back from idle starts that far behind the least-served waiting one.
        var credited = new FairWaitingQueue(returnCredit: 50);
        credited.Add(a1);
        credited.Charge(a1, 200, 0);
        credited.Add(b1);
        Assert.Equal(150, credited.CounterOf("b"));
        Assert.Equal("a", credited.MostServedAbove("b", 50, ["a", "b"]));
        Assert.Null(credited.MostServedAbove("b", 51, ["a", "b"]));
        // A weight of 2 halves what the same service counts.
        var c1 = Request("c1", "c", 3, weight: 2);
        queue.Charge(c1, 100, 0);
        Assert.Equal(50, queue.CounterOf("c"));
        // Class comes before fair share.
        var urgent = Request("u1", "a", 4, ServiceClass.Interactive);
        queue.Add(urgent);
        Assert.Same(urgent, queue.Next());
    }

    private static ControlPlane.Engine.Core.Requests.EngineRequest Request(string id, string tenant, long order, ServiceClass serviceClass = ServiceClass.Standard, double weight = 1) =>
        new(CoreHarness.Request(id, 8, 4, serviceClass: serviceClass) with { Tenant = tenant, TenantWeight = weight }, order, new ControlPlane.Engine.Core.Requests.RequestRandom(1, 0),
            new ControlPlane.Engine.Core.Output.IncrementalDetokenizer(LetterTokenizer.Instance));
}
