using ControlPlane.Instances;

namespace ControlPlane.Grains.Tests.Scheduling;

[Collection(ClusterCollection.Name)]
public class SchedulerGrainTests(ClusterFixture fixture)
{
    [Fact]
    public async Task ReportLoad_OfInstancesItDoesNotKnow_NamesThemSoTheirHostRegistersThemAgain()
    {
        // A scheduler activated anew (its silo or its directory entry lost) knows no instance until hosts say so.
        var scheduler = fixture.Cluster.GrainFactory.GetGrain<ISchedulerGrain>("fresh-model");
        var known = new InstanceDescriptor { InstanceId = "pod-a/fresh-model/0", Model = "fresh-model", TotalKvBlocks = 8, KvBlockSize = 16 };
        await scheduler.RegisterInstanceAsync(known);

        var unknown = await scheduler.ReportLoadAsync([
            new InstanceLoad { InstanceId = known.InstanceId, TotalKvBlocks = 8, ReportedAt = DateTimeOffset.UtcNow },
            new InstanceLoad { InstanceId = "pod-b/fresh-model/0", TotalKvBlocks = 8, ReportedAt = DateTimeOffset.UtcNow },
        ]);

        Assert.Equal(["pod-b/fresh-model/0"], unknown);
        Assert.Equal([known.InstanceId], (await scheduler.GetSnapshotAsync()).Instances.Select(l => l.InstanceId));
    }
}
