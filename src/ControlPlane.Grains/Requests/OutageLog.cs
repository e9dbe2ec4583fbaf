using Microsoft.Extensions.Logging;

namespace ControlPlane.Grains.Requests;

/// <summary>
/// Logs a dependency's failures once per outage, not once per call: the first failure with its error, then a count
/// until a call succeeds again, which logs how many failed and for how long. (A Redis outage under load would
/// otherwise write a line per request state write: about 17,000 in 30 s.)
/// </summary>
public sealed partial class OutageLog(ILogger logger, string what, TimeProvider time)
{
    private readonly Lock _lock = new();
    private long _failures;
    private long _since;

    public long Failures => Interlocked.Read(ref _failures);

    public void Failed(Exception exception)
    {
        lock (_lock)
        {
            if (_failures++ == 0)
            {
                _since = time.GetTimestamp();
                Began(logger, exception, what);
            }
        }
    }

    public void Succeeded()
    {
        if (Interlocked.Read(ref _failures) == 0)
            return;
        long failures;
        TimeSpan lasted;
        lock (_lock)
        {
            (failures, _failures) = (_failures, 0);
            lasted = time.GetElapsedTime(_since);
        }
        if (failures > 0)
            Ended(logger, what, failures, lasted.TotalSeconds);
    }

    [LoggerMessage(EventId = 80, Level = LogLevel.Warning, Message = "{What} failing; further failures are counted, not logged, until one succeeds")]
    private static partial void Began(ILogger logger, Exception exception, string what);

    [LoggerMessage(EventId = 81, Level = LogLevel.Warning, Message = "{What} recovered after {Failures} failures over {Seconds:0.0} s")]
    private static partial void Ended(ILogger logger, string what, long failures, double seconds);
}
