using ControlPlane.Requests;

namespace ControlPlane.Scheduling.Power;

/// <summary>
/// POLCA's controller for one power domain, called once a period with the instances' measured draw: it raises
/// the level as soon as draw crosses a threshold (capping the least important work first: batch, then
/// standard, then all), brakes when the budget itself is crossed, and releases one level at a time only after
/// draw has stayed below that level's threshold less a margin for several periods. Pure: no clock, no I/O;
/// the power-domain grain and the simulator both call it.
/// </summary>
public sealed class PowerController(PowerControllerConfig config)
{
    private int _quietPeriods;

    public PowerLevel Level { get; private set; }

    /// <summary>Brakes started so far (each is a period where the domain drew more than its budget).</summary>
    public int Brakes { get; private set; }

    public PowerDecision Decide(double budgetWatts, IReadOnlyList<InstancePower> instances)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(budgetWatts);
        var draw = instances.Sum(i => i.DrawWatts);
        var wanted = LevelFor(draw / budgetWatts);
        var brakeStarted = false;
        if (wanted >= Level)
        {
            brakeStarted = wanted == PowerLevel.Brake && Level != PowerLevel.Brake;
            if (brakeStarted)
                Brakes++;
            Level = wanted;
            _quietPeriods = 0;
        }
        else if (draw / budgetWatts < Threshold(Level) - config.ReleaseMargin && ++_quietPeriods >= config.ReleasePeriods)
        {
            Level--;
            _quietPeriods = 0;
        }
        else if (draw / budgetWatts >= Threshold(Level) - config.ReleaseMargin)
        {
            _quietPeriods = 0;
        }
        return new PowerDecision(Level, Caps(instances), draw, brakeStarted);
    }

    private Dictionary<string, double> Caps(IReadOnlyList<InstancePower> instances)
    {
        var caps = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var i in instances)
        {
            var batch = i.MostImportantWork == ServiceClass.Batch;
            var capped = Level switch
            {
                PowerLevel.Brake => config.BrakeFraction,
                _ when batch && Level >= PowerLevel.BatchCapped => config.BatchCapFraction,
                PowerLevel.AllCapped => config.CapFraction,
                PowerLevel.StandardCapped when i.MostImportantWork != ServiceClass.Interactive => config.CapFraction,
                _ => (double?)null,
            };
            if (capped is { } fraction)
                caps[i.InstanceId] = fraction * i.MaxWatts;
        }
        return caps;
    }

    private PowerLevel LevelFor(double share) => share switch
    {
        > 1 => PowerLevel.Brake,
        _ when share >= config.AllThreshold => PowerLevel.AllCapped,
        _ when share >= config.StandardThreshold => PowerLevel.StandardCapped,
        _ when share >= config.BatchThreshold => PowerLevel.BatchCapped,
        _ => PowerLevel.Uncapped,
    };

    /// <summary>The share of the budget at which <paramref name="level"/> starts.</summary>
    private double Threshold(PowerLevel level) => level switch
    {
        PowerLevel.Brake => 1,
        PowerLevel.AllCapped => config.AllThreshold,
        PowerLevel.StandardCapped => config.StandardThreshold,
        PowerLevel.BatchCapped => config.BatchThreshold,
        _ => 0,
    };
}
