using ControlPlane.Grains.Requests;
using ControlPlane.Instances;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Engine;
using ControlPlane.Simulation.Performance;
using Orleans.TestingHost;

namespace ControlPlane.Grains.Tests;

/// <summary>One Orleans test silo with four simulated engines of model "m" (fast steps, 64 KV blocks each).</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const string Model = "m";

    /// <summary>A second model whose dispatcher only the burst test uses, so no other test's picks touch its view.</summary>
    public const string BurstModel = "burst";
    public const int Instances = 4;
    public const int BlocksPerInstance = 64;

    public static readonly PerformanceProfile FastProfile = PerformanceProfile.Load(PerformanceProfile.Default) with
    {
        StepOverheadMs = 2,
        PrefillMsPerToken = 0.001,
        DecodeMsPerSequence = 0.01,
        MsPerContextToken = 0,
    };

    public TestCluster Cluster { get; } = Build();

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>Waits until the scheduler has heard from every instance (and, if asked, sees them all idle).</summary>
    public async Task<LoadSnapshot> WaitForInstancesAsync(bool idle = false, string model = Model)
    {
        var scheduler = Cluster.GrainFactory.GetGrain<ISchedulerGrain>(model);
        for (var i = 0; i < 200; i++)
        {
            var snapshot = await scheduler.GetSnapshotAsync();
            if (snapshot.Instances.Count(x => x.Health == InstanceHealth.Ready) == Instances
                && (!idle || snapshot.Instances.All(x => x.RunningRequests == 0 && x.WaitingRequests == 0)))
                return snapshot;
            await Task.Delay(25);
        }
        throw new TimeoutException($"the scheduler did not see {Instances} ready{(idle ? ", idle" : "")} instances within 5 s");
    }

    private static TestCluster Build()
    {
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        return builder.Build();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMemoryGrainStorage(RequestGrain.StorageName);
            siloBuilder.Services.AddControlPlaneGrains(new DispatchConfig { Policy = "least-request", QueueLimit = 1000 }, (_, host) =>
            {
                foreach (var model in new[] { Model, BurstModel })
                for (var i = 0; i < Instances; i++)
                {
                    var engine = new SimulatedEngine(model, FastProfile, random: new Random(i), totalKvBlocks: BlocksPerInstance);
                    host.Add(new InstanceDescriptor
                    {
                        InstanceId = $"{model}-{i}",
                        Model = model,
                        TotalKvBlocks = BlocksPerInstance,
                        KvBlockSize = engine.Descriptor.KvBlockSize,
                        MaxContextTokens = engine.Descriptor.MaxContextTokens,
                        Engine = SimulatedEngine.BackendName,
                    }, engine);
                }
            });
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
