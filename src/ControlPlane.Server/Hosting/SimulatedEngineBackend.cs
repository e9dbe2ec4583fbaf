using ControlPlane.Engines;
using ControlPlane.Server.Configuration;
using ControlPlane.Simulation.Engine;

namespace ControlPlane.Server.Hosting;

/// <summary>Simulated engines: the shared engine core with step times from a performance profile.</summary>
public sealed class SimulatedEngineBackend : IEngineBackend
{
    public string Name => SimulatedEngine.BackendName;

    public IEnumerable<IEngine> CreateEngines(ModelConfig model, ModelFolders folders, IServiceProvider services)
    {
        var time = services.GetRequiredService<TimeProvider>();
        var profile = EngineFactory.Profile(model);
        for (var i = 0; i < model.Instances; i++)
            yield return new SimulatedEngine(model.Name, profile, time, new Random(), model.KvBlocks);
    }
}
