using System.Collections.Concurrent;
using ControlPlane.Engines;
using ControlPlane.Grains.Requests;
using ControlPlane.Instances;
using ControlPlane.Power;
using ControlPlane.Requests;
using ControlPlane.Tokens;
using Microsoft.Extensions.Logging;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Drives one engine from one loop: applies queued orders between steps, runs steps while there is work,
/// and sends each step's tokens as one batch per destination gateway. Orders come from any thread.
/// </summary>
public sealed partial class EngineRunner : IAsyncDisposable
{
    private readonly IEngine _engine;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<Action> _orders = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Dictionary<string, TrackedRequest> _tracked = new(StringComparer.Ordinal);
    private readonly Dictionary<ITokenSink, List<TokenChunk>> _outbox = [];
    private readonly CancellationTokenSource _stop = new();
    private volatile InstanceLoad _load;
    private volatile int _health = (int)InstanceHealth.Starting;
    private volatile int _role;
    private int _admitsInFlight;
    private volatile int _active;
    private Task? _loop;

    private readonly LocalTokenSinks? _localSinks;

    private readonly RequestPhaseWriter? _phases;

    public EngineRunner(InstanceDescriptor descriptor, IEngine engine, TimeProvider time, ILogger logger, LocalTokenSinks? localSinks = null,
        RequestPhaseWriter? phases = null, IPowerActuator? power = null)
    {
        Power = power;
        _phases = phases;
        _localSinks = localSinks;
        Descriptor = descriptor;
        _engine = engine;
        _time = time;
        _logger = logger;
        _role = (int)descriptor.Role;
        _load = new InstanceLoad { InstanceId = descriptor.InstanceId, Health = InstanceHealth.Starting, TotalKvBlocks = descriptor.TotalKvBlocks, KvBlockSize = descriptor.KvBlockSize };
        LastReport = _load;
        // Where the runner does not model a step's energy, the engine estimates it from the draw last measured.
        if (power is not null && engine is ControlPlane.Engine.Core.EngineCore core)
            core.DrawWatts = () => LastReport.DrawWatts;
    }

    public InstanceDescriptor Descriptor { get; }

    /// <summary>What a gateway needs to serve this engine's model (its instance grain hands it out); null where the host gave none.</summary>
    public ModelCard? Card { get; init; }

    public InstanceLoad Load => _load;
    public InstanceHealth Health => (InstanceHealth)_health;
    public InstanceRole Role => (InstanceRole)_role;

    /// <summary>The GPU's power actuator, when the worker has one for this engine.</summary>
    public IPowerActuator? Power { get; }

    /// <summary>The caps the power domains holding this GPU set; <see cref="Power"/> obeys the lowest.</summary>
    public Power.PowerCapVotes PowerVotes { get; } = new();

    /// <summary>The load last reported (with the GPU's draw over the period before it).</summary>
    public InstanceLoad LastReport { get; private set; }

    /// <summary>Energy the GPU drew since the runner started, J, from the draws reported (each over its period).</summary>
    public double EnergyJoules { get; private set; }

    /// <summary>The load with the GPU's draw since the last call: what the host reports each period. One caller (the host's loop).</summary>
    public InstanceLoad ReadLoad(DateTimeOffset now)
    {
        if (Power is null)
            return LastReport = _load with { ReportedAt = now };
        var draw = Power.ReadDrawWatts();
        if (LastReport is { ReportedAt: var previous } && previous != default)
            EnergyJoules += draw * (now - previous).TotalSeconds;
        return LastReport = _load with { ReportedAt = now, DrawWatts = draw, MaxWatts = Power.MaxWatts, PowerCapWatts = Power.CapWatts };
    }

    /// <summary>Starts the loop; later calls do nothing.</summary>
    public void Start()
    {
        if (_loop is not null)
            return;
        _health = (int)InstanceHealth.Ready;
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    public AdmitResult Admit(RequestSpec request, ITokenSink sink)
    {
        if (Health != InstanceHealth.Ready)
            return AdmitResult.Refused($"instance '{Descriptor.InstanceId}' is {Health.ToString().ToLowerInvariant()}");
        var admittedAt = _time.GetTimestamp();
        if (TryAdmitAfterFetch(request, sink, admittedAt))
            return AdmitResult.Admitted;
        Interlocked.Increment(ref _admitsInFlight);
        Order(() =>
        {
            Interlocked.Decrement(ref _admitsInFlight);
            AddNow(request, _localSinks?.Resolve(sink) ?? sink, sink, admittedAt);
        });
        return AdmitResult.Admitted;
    }

    public Task<bool> AbortAsync(string requestId)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Order(() => done.SetResult(AbortNow(requestId)));
        return done.Task;
    }

    // Role and health changes wake the loop so the published load (what dispatch reads) says so at once.
    public void SetRole(InstanceRole role)
    {
        _role = (int)role;
        Order(static () => { });
    }

    public void Drain()
    {
        _health = (int)InstanceHealth.Draining;
        Order(static () => { });
    }

    public void Resume()
    {
        Interlocked.CompareExchange(ref _health, (int)InstanceHealth.Ready, (int)InstanceHealth.Draining);
        Order(static () => { });
    }

    /// <summary>Requests the runner holds or is about to admit, as of its last loop turn.</summary>
    public int ActiveRequests => _active;

    /// <summary>Aborts, at the next step boundary, the requests streamed by the gateway silo that is gone.</summary>
    public void AbortOrphans(string gateway) => Order(() => AbortOrphansNow(gateway));

    /// <summary>
    /// Stops the engine. Requests still running are dropped without a last chunk: a gateway that outlives this
    /// silo sees it leave and resumes them on another instance, which it could not do after an error chunk.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _health = (int)InstanceHealth.Draining;
        await _stop.CancelAsync();
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        while (_orders.TryDequeue(out var order))
            order();
        if (_tracked.Count > 0)
            Log.StoppedWithWork(_logger, Descriptor.InstanceId, _tracked.Count);
        _tracked.Clear();
        Flush();
        _engine.Dispose();
        _stop.Dispose();
        _wake.Dispose();
    }

    private void Order(Action order)
    {
        _orders.Enqueue(order);
        _wake.Release();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            while (_orders.TryDequeue(out var order))
                order();
            Flush();
            PublishLoad();
            try
            {
                if (!_engine.HasWork)
                {
                    await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
                var step = await _engine.StepAsync(cancellationToken).ConfigureAwait(false);
                EngineMetrics.Record(Descriptor.InstanceId, step);
                FeedKvEvents(step.KvEvents);
                Deliver(step);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Log.StepFailed(_logger, ex, Descriptor.InstanceId);
                _health = (int)InstanceHealth.Failed;
                foreach (var id in _tracked.Keys.ToArray())
                {
                    _engine.Abort(id);
                    Finish(id, FinishReason.Error, $"engine step failed: {ex.Message}");
                }
            }
        }
    }
}
