using ControlPlane.Engines;
using ControlPlane.Server.Configuration;

namespace ControlPlane.Server.Hosting;

/// <summary>
/// An engine backend a silo can run, by the name models give in <c>Engine</c>: <c>simulated</c> in every
/// host; <c>torchsharp</c> only where TorchSharp is linked (ControlPlane.Worker), so the control host never
/// loads libtorch.
/// </summary>
public interface IEngineBackend
{
    string Name { get; }

    /// <summary>The model's engine instances for this silo (<see cref="ModelConfig.Instances"/> of them).</summary>
    IEnumerable<IEngine> CreateEngines(ModelConfig model, ModelFolders folders, IServiceProvider services);

    /// <summary>The GPU power actuator of the model's engine number <paramref name="index"/> (<see cref="ModelConfig.PowerActuator"/>); none by default.</summary>
    ControlPlane.Power.IPowerActuator? CreatePowerActuator(ModelConfig model, int index) => null;
}
