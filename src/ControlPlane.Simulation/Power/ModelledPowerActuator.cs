using ControlPlane.Power;

namespace ControlPlane.Simulation.Power;

/// <summary>
/// A simulated GPU's actuator: the cap goes to the engine's <see cref="PowerMeter"/>, which stretches its steps;
/// the draw read is the meter's step energy since the last read plus idle draw for the rest of the interval.
/// </summary>
public sealed class ModelledPowerActuator(PowerMeter meter, TimeProvider time) : IPowerActuator
{
    private readonly Lock _lock = new();
    private long _lastRead = time.GetTimestamp();

    public double MaxWatts => meter.Model.MaxWatts;
    public double? CapWatts => meter.CapWatts;

    public double ReadDrawWatts()
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            var elapsedMs = Math.Max(time.GetElapsedTime(_lastRead, now).TotalMilliseconds, 1e-3);
            _lastRead = now;
            return meter.Read(elapsedMs).Watts;
        }
    }

    public void SetCap(double? watts) => meter.CapWatts = watts;
}
