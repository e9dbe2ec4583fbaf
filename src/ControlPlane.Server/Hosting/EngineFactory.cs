using ControlPlane.Engines;
using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Server.Configuration;
using ControlPlane.Simulation.Engine;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Server.Hosting;

/// <summary>Creates the engines the configuration asks this silo to run and puts them on the engine host.</summary>
public static class EngineFactory
{
    public static void AddConfiguredEngines(IServiceProvider services, EngineHost host, ControlPlaneConfig config)
    {
        var time = services.GetRequiredService<TimeProvider>();
        var silo = Environment.MachineName;
        foreach (var model in config.Models)
        {
            var profile = Profile(model);
            for (var i = 0; i < model.Instances; i++)
            {
                IEngine engine = new SimulatedEngine(model.Name, profile, time, new Random(), model.KvBlocks);
                host.Add(new InstanceDescriptor
                {
                    InstanceId = $"{model.Name}-{i}",
                    Model = model.Name,
                    Role = InstanceRole.Mixed,
                    TotalKvBlocks = engine.Descriptor.TotalKvBlocks,
                    KvBlockSize = engine.Descriptor.KvBlockSize,
                    MaxContextTokens = engine.Descriptor.MaxContextTokens,
                    Engine = engine.Descriptor.Backend,
                    Host = silo,
                }, engine);
            }
        }
    }

    public static PerformanceProfile Profile(ModelConfig model)
    {
        var profile = PerformanceProfile.Load(model.Profile);
        return model.MaxContextTokens is { } context ? profile with { MaxContextTokens = context } : profile;
    }
}
