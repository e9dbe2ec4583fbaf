using ControlPlane.Instances;
using ControlPlane.Scheduling.Migration;

namespace ControlPlane.Scheduling.Tests.Migration;

/// <summary>The migration planner's decisions on hand-made load snapshots.</summary>
public class MigrationPlannerTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);

    private static InstanceLoad Load(string id, int used, int running = 4, int total = 100, int waiting = 0, int waitingBlocks = 0,
        InstanceHealth health = InstanceHealth.Ready, int priority = 0, InstanceRole role = InstanceRole.Mixed) => new()
    {
        InstanceId = id,
        UsedKvBlocks = used,
        TotalKvBlocks = total,
        RunningRequests = running,
        WaitingRequests = waiting,
        WaitingKvBlocks = waitingBlocks,
        Health = health,
        PriorityRequests = priority,
        Role = role,
        ReportedAt = Now,
    };

    [Fact]
    public void Balance_PairsTheMostLoadedWithTheLeastLoaded()
    {
        var planner = new MigrationPlanner(new MigrationConfig());
        var orders = planner.Plan([Load("a", 50), Load("b", 95), Load("c", 10), Load("d", 30)], [], Now);
        var order = Assert.Single(orders);
        Assert.Equal(new MigrationOrder("b", "c", MigrationReason.Balance), order);
    }

    [Fact]
    public void NothingMoves_WhenNoInstanceIsAboveTheSourceThreshold_OrNoneBelowTheDestinationOne()
    {
        var planner = new MigrationPlanner(new MigrationConfig());
        Assert.Empty(planner.Plan([Load("a", 80), Load("b", 85), Load("c", 70)], [], Now));
        Assert.Empty(planner.Plan([Load("a", 95), Load("b", 92), Load("c", 70)], [], Now));
        Assert.Empty(planner.Plan([Load("a", 95, running: 1), Load("b", 10)], [], Now)); // one request: moving it balances nothing
        Assert.Empty(new MigrationPlanner(new MigrationConfig { Enabled = false }).Plan([Load("a", 99), Load("b", 0)], [], Now));
    }

    [Fact]
    public void Defragment_AQueuedRequestThatFitsNowhere_MakesItsInstanceShedLoad()
    {
        // a uses 70 of 100 blocks and a queued prompt needs 40: it cannot start there (nor on b, which has 45 free, after
        // dispatch chose a). Virtual usage 1.1 makes a shed a running request to c.
        var planner = new MigrationPlanner(new MigrationConfig());
        var order = Assert.Single(planner.Plan([Load("a", 70, running: 1, waiting: 1, waitingBlocks: 40), Load("b", 55), Load("c", 20)], [], Now));
        Assert.Equal(new MigrationOrder("a", "c", MigrationReason.Defragment), order);
    }

    [Fact]
    public void PriorityHeadroom_MakesAnInstanceWithPriorityRequestsShedLoadSooner()
    {
        var config = new MigrationConfig { PriorityHeadroomBlocks = 10 };
        var plain = new MigrationPlanner(config).Plan([Load("a", 80), Load("b", 10)], [], Now);
        Assert.Empty(plain);
        var order = Assert.Single(new MigrationPlanner(config).Plan([Load("a", 80, priority: 2), Load("b", 10)], [], Now));
        Assert.Equal(MigrationReason.Priority, order.Reason);
    }

    [Fact]
    public void Drain_MovesEverythingOutUpToItsConcurrency_ToAnyInstanceWithRoom()
    {
        var planner = new MigrationPlanner(new MigrationConfig { DrainConcurrency = 3 });
        var orders = planner.Plan([Load("a", 40, running: 5, health: InstanceHealth.Draining), Load("b", 70), Load("c", 75)], [], Now);
        Assert.Equal(3, orders.Count);
        Assert.All(orders, o => Assert.Equal(("a", MigrationReason.Drain), (o.Source, o.Reason)));
        Assert.Contains(orders, o => o.Destination == "b"); // above DestinationBelow, but a drain takes any room there is
        // With three in flight, nothing more until one ends.
        var inFlight = orders.Select(o => new MigrationInFlight(o.Source, o.Destination, o.Reason, Now)).ToArray();
        Assert.Empty(planner.Plan([Load("a", 40, running: 5, health: InstanceHealth.Draining), Load("b", 70), Load("c", 75)], inFlight, Now));
    }

    [Fact]
    public void Drain_NeverPicksAnotherDrainingOrFullInstance()
    {
        var planner = new MigrationPlanner(new MigrationConfig());
        Assert.Empty(planner.Plan([Load("a", 40, health: InstanceHealth.Draining), Load("b", 10, health: InstanceHealth.Draining), Load("c", 99),
            Load("d", 0, role: InstanceRole.Prefill)], [], Now));
    }

    [Fact]
    public void Limits_OneMigrationPerInstanceAndAtMostMaxConcurrent()
    {
        var planner = new MigrationPlanner(new MigrationConfig { MaxConcurrent = 2 });
        var loads = new[] { Load("a", 99), Load("b", 98), Load("c", 97), Load("x", 0), Load("y", 1), Load("z", 2) };
        var orders = planner.Plan(loads, [], Now);
        Assert.Equal(2, orders.Count);
        Assert.Equal(orders.Count, orders.Select(o => o.Source).Distinct().Count());
        Assert.Equal(orders.Count, orders.Select(o => o.Destination).Distinct().Count());
        Assert.Equal(("a", "x"), (orders[0].Source, orders[0].Destination));
        Assert.Equal(("b", "y"), (orders[1].Source, orders[1].Destination));
        var inFlight = orders.Select(o => new MigrationInFlight(o.Source, o.Destination, o.Reason, Now)).ToArray();
        Assert.Empty(planner.Plan(loads, inFlight, Now)); // at the limit
        // One ended (b to y): one more, from the most loaded source with nothing moving out to a destination taking nothing in.
        var next = Assert.Single(planner.Plan(loads, inFlight[..1], Now));
        Assert.Equal(("b", "y"), (next.Source, next.Destination));
    }

    [Fact]
    public void Cooldown_AnInstanceThatJustTookAMigrationIsNoSourceAtOnce()
    {
        var planner = new MigrationPlanner(new MigrationConfig { Cooldown = TimeSpan.FromSeconds(2) });
        Assert.Single(planner.Plan([Load("a", 95), Load("b", 10)], [], Now));
        // b is now the loaded one (say), a the idle one: no move back within the cooldown...
        Assert.Empty(planner.Plan([Load("a", 10), Load("b", 95)], [], Now.AddSeconds(1)));
        // ...and after it, if the load says so.
        Assert.Single(planner.Plan([Load("a", 10), Load("b", 95)], [], Now.AddSeconds(3)));
    }

    [Fact]
    public void DestinationsCountWhatAlreadyMovesIn()
    {
        // c takes one migration at a time (outside a drain): b's must wait although c has room.
        var planner = new MigrationPlanner(new MigrationConfig { MaxConcurrent = 4 });
        var loads = new[] { Load("a", 96), Load("b", 95), Load("c", 30) };
        var inFlight = new[] { new MigrationInFlight("a", "c", MigrationReason.Balance, Now) };
        Assert.Empty(planner.Plan(loads, inFlight, Now));
    }

    [Fact]
    public void VirtualUsage_IsInfiniteForDrainingOrFailedInstances()
    {
        Assert.Equal(double.PositiveInfinity, VirtualUsage.Of(Load("a", 0, health: InstanceHealth.Draining), 0));
        Assert.Equal(double.PositiveInfinity, VirtualUsage.Of(Load("a", 0, health: InstanceHealth.Failed), 0));
        Assert.Equal(0.5, VirtualUsage.Of(Load("a", 30, waitingBlocks: 10, priority: 1), 10), 6);
    }

    [Fact]
    public void Validate_NamesTheBadFields()
    {
        var errors = new MigrationConfig { SourceAbove = 0.5, DestinationBelow = 0.6, StageBlocks = 0, Period = TimeSpan.Zero }.Validate("ControlPlane:Migration");
        Assert.Contains(errors, e => e.Contains("ControlPlane:Migration:SourceAbove", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("ControlPlane:Migration:StageBlocks", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("ControlPlane:Migration:Period", StringComparison.Ordinal));
        Assert.Empty(new MigrationConfig().Validate("x"));
    }
}
