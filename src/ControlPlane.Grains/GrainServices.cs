using ControlPlane.Grains.Engines;
using ControlPlane.Grains.Placement;
using ControlPlane.Scheduling.Autoscaling;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Scheduling.Power;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace ControlPlane.Grains;

/// <summary>Registers what the grains of this project need on a silo.</summary>
public static class GrainServices
{
    /// <summary>
    /// Adds the engine host (with the engines <paramref name="addEngines"/> puts on it), the dispatch
    /// configuration and the clock. Every silo with the control or worker role calls this.
    /// </summary>
    public static IServiceCollection AddControlPlaneGrains(this IServiceCollection services, DispatchConfig dispatch, Action<IServiceProvider, EngineHost>? addEngines = null,
        PowerConfig? power = null, SiloRoles roles = SiloRoles.All, WorkerConfig? worker = null, MigrationConfig? migration = null,
        DisaggregationConfig? disaggregation = null, AutoscaleConfig? autoscale = null, KvCacheConfig? kvCache = null)
    {
        services.AddSingleton<IOptions<KvCacheConfig>>(Options.Create(kvCache ?? new KvCacheConfig()));
        services.TryAddSingleton<KvCache.KvIndexReplicas>();
        services.AddSingleton<IOptions<AutoscaleConfig>>(Options.Create(autoscale ?? new AutoscaleConfig()));
        services.AddSingleton<IOptions<DisaggregationConfig>>(Options.Create(disaggregation ?? new DisaggregationConfig()));
        services.AddSingleton<IOptions<MigrationConfig>>(Options.Create(migration ?? new MigrationConfig()));
        services.AddSingleton<IOptions<WorkerConfig>>(Options.Create(worker ?? new WorkerConfig()));
        services.PostConfigure<GrainTypeOptions>(o => RoleGrainClasses.Restrict(o, roles));
        services.AddPlacementDirector<InstancePlacementStrategy, InstancePlacementDirector>();
        services.AddSingleton<IOptions<PowerConfig>>(Options.Create(power ?? new PowerConfig()));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LocalTokenSinks>();
        services.AddSingleton<IOptions<DispatchConfig>>(Options.Create(dispatch));
        services.AddSingleton(sp =>
        {
            var host = ActivatorUtilities.CreateInstance<EngineHost>(sp);
            addEngines?.Invoke(sp, host);
            return host;
        });
        services.AddHostedService(sp => sp.GetRequiredService<EngineHost>());
        return services;
    }
}
