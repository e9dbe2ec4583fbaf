namespace ControlPlane.Simulation.Power;

/// <summary>
/// A simulated GPU's power state: the cap an actuator set, and the energy its steps drew (busy time at each
/// step's modelled draw). Idle time is the caller's to add at the model's idle draw.
/// </summary>
public sealed class PowerMeter(PowerModel model)
{
    public PowerModel Model { get; } = model;

    private double _cap = double.NaN;

    /// <summary>The cap in force, W; null when uncapped. Set from any thread (an actuator), read by the engine's loop.</summary>
    public double? CapWatts
    {
        get => Volatile.Read(ref _cap) is var c && double.IsNaN(c) ? null : c;
        set => Volatile.Write(ref _cap, value ?? double.NaN);
    }
    public double BusyJoules { get; private set; }
    public double BusyMs { get; private set; }

    private double _readJoules;
    private double _readBusyMs;

    /// <summary>
    /// The energy and mean draw over the <paramref name="elapsedMs"/> since the previous read: the steps' energy,
    /// idle draw for the rest (a step longer than the interval counts whole). One reader per meter.
    /// </summary>
    public (double Joules, double Watts) Read(double elapsedMs)
    {
        var busyMs = BusyMs - _readBusyMs;
        var joules = BusyJoules - _readJoules + Math.Max(0, elapsedMs - busyMs) * Model.IdleWatts / 1000;
        _readBusyMs = BusyMs;
        _readJoules = BusyJoules;
        return (joules, joules / (Math.Max(elapsedMs, busyMs) / 1000));
    }

    /// <summary>Models a step under the current cap, adds its energy, and returns its duration.</summary>
    public TimeSpan Step(double prefillMs, int prefillTokens, double otherMs, int decodeSequences)
    {
        var (ms, watts) = Model.Step(prefillMs, prefillTokens, otherMs, decodeSequences, CapWatts);
        BusyMs += ms;
        BusyJoules += ms * watts / 1000;
        return TimeSpan.FromMilliseconds(ms);
    }
}
