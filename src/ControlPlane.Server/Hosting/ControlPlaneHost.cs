using ControlPlane.Grains;
using ControlPlane.Grains.Engines;
using ControlPlane.Grains.Placement;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Gateway;
using ControlPlane.Server.Gateway.Tenants;
using ControlPlane.Server.Metrics;
using ControlPlane.Server.Models;
using OpenTelemetry.Metrics;

namespace ControlPlane.Server.Hosting;

/// <summary>Builds the control silo: configuration, the Orleans silo, engines, the gateway and its endpoints.</summary>
public static class ControlPlaneHost
{
    /// <summary>
    /// Builds the host; <c>appsettings.json</c> is read from <paramref name="contentRoot"/> (the working directory
    /// when null). Engines run on the <paramref name="backends"/> given besides the simulated one.
    /// </summary>
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null, string? contentRoot = null,
        IReadOnlyList<IEngineBackend>? backends = null)
    {
        IReadOnlyList<IEngineBackend> all = [new SimulatedEngineBackend(), .. backends ?? []];
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = contentRoot });
        ReplaceSettingsFile(builder.Configuration);
        configure?.Invoke(builder.Configuration);
        var config = ControlPlaneConfigLoader.Load(builder.Configuration);

        builder.Services.AddSingleton(config);
        // ASP.NET Core's conventions choose the address (ASPNETCORE_URLS, --urls, a Urls key); this is only the default.
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
            builder.WebHost.UseUrls(DefaultUrl);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = config.Gateway.MaxRequestBodyBytes);
        // Stopping takes the gateway's grace, then a worker's drain: the host must not cut either short.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = config.Gateway.ShutdownGrace + config.Worker.DrainTimeout + TimeSpan.FromSeconds(15));
        var roles = config.Cluster.ResolveRoles();
        builder.UseOrleans(silo => SiloConfiguration.Configure(silo, config.Cluster));
        // After the silo: hosted services start in order (engines register with grains once it runs) and stop in
        // reverse, so a stopping worker drains its engines while the silo still delivers their tokens.
        builder.Services.AddControlPlaneGrains(config.Dispatch,
            roles.HasFlag(SiloRoles.Worker) ? (sp, host) => EngineFactory.AddConfiguredEngines(sp, host, config, all) : null,
            config.Power, roles, config.Worker, config.Migration, config.Disaggregation, config.Autoscale, config.KvCache);
        builder.Services.AddSingleton<ModelFolders>();
        if (!string.Equals(config.Cluster.Mode, nameof(ClusterMode.Embedded), StringComparison.OrdinalIgnoreCase))
        {
            builder.Services.AddSingleton<MembershipRecovery>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<MembershipRecovery>());
        }
        builder.Services.AddSingleton(sp => new TenantDirectory(config.Auth, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<GatewayMetrics>();
        if (roles.HasFlag(SiloRoles.Control))
        {
            builder.Services.AddHostedService<PowerDomainStarter>();
            // The configured models, and those the cluster's engines announce (ModelServices applied after this gateway started).
            builder.Services.AddSingleton(sp => new ModelCatalog(config.Models.Select(m => EngineFactory.Describe(m, sp.GetRequiredService<ModelFolders>())),
                new GrainModelSource(sp.GetRequiredService<IGrainFactory>()), sp.GetRequiredService<TimeProvider>(),
                Path.Combine(Path.GetTempPath(), "controlplane-gateway-models"),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<ModelCatalog>()));
            builder.Services.AddHostedService<ModelCatalogRefresher>();
            builder.Services.AddSingleton<TokenRouter>();
            builder.Services.AddSingleton<RequestExecutor>();
            builder.Services.AddSingleton<HeldRequests>();
            builder.Services.AddSingleton<CompletionEndpoint>();
            builder.Services.AddHostedService<SiloLossWatcher>();
            builder.Services.AddHostedService<StreamWatchdog>();
            builder.Services.AddHostedService<LatencyReporter>();
            builder.Services.AddSingleton<GracefulShutdown>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<GracefulShutdown>());
        }
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(GatewayMetrics.MeterName)
            .AddView(instrument => instrument.Meter.Name != GatewayMetrics.MeterName ? null : instrument.Unit switch
            {
                "s" => new ExplicitBucketHistogramConfiguration { Boundaries = GatewayMetrics.LatencyBuckets },
                "J" when instrument is System.Diagnostics.Metrics.Histogram<double> => new ExplicitBucketHistogramConfiguration { Boundaries = GatewayMetrics.EnergyBuckets },
                _ => null,
            })
            .AddPrometheusExporter());

        var app = builder.Build();
        OpenAiErrors.Use(app);
        AccessGate.Use(app);
        if (roles.HasFlag(SiloRoles.Control))
        {
            app.Lifetime.ApplicationStarted.Register(() => app.Services.GetRequiredService<TokenRouter>().Attach(app.Services.GetRequiredService<IGrainFactory>()));
            MapControlEndpoints(app);
        }
        else
        {
            // A worker alone serves no API; its instance metrics and health are still scraped and probed.
            app.Lifetime.ApplicationStarted.Register(() => app.Services.GetRequiredService<GatewayMetrics>());
            app.MapGet("/healthz", HealthEndpoints.Healthz);
            app.MapGet("/readyz", HealthEndpoints.WorkerReadyz);
            app.MapPrometheusScrapingEndpoint("/metrics");
        }
        // A pod's preStop hook (GET only): this silo's engines take no new work and their requests finish.
        app.MapGet("/admin/drain", async (EngineHost engines, CancellationToken cancellationToken) =>
            Results.Json(new { instances = engines.Runners.Count, left = await engines.DrainAsync(cancellationToken) }));
        return app;
    }

    /// <summary>
    /// <c>CONTROLPLANE_SETTINGS</c> names a JSON file that takes the place of the <c>appsettings.json</c> beside the
    /// binary (a mounted ConfigMap, a test's cluster): in place, not on top, so its lists are whole, not merged
    /// item by item with the embedded default's. Environment variables and arguments still override it.
    /// </summary>
    private static void ReplaceSettingsFile(ConfigurationManager configuration)
    {
        if (Environment.GetEnvironmentVariable(SettingsVariable) is not { Length: > 0 } path)
            return;
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new ConfigurationException($"{SettingsVariable} names '{full}', which is not a file");
        var sources = (IList<IConfigurationSource>)configuration.Sources;
        var index = sources.ToList().FindIndex(s => s is Microsoft.Extensions.Configuration.Json.JsonConfigurationSource { Path: "appsettings.json" });
        var replacement = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource
        {
            Path = Path.GetFileName(full),
            FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetDirectoryName(full)!),
            Optional = false,
        };
        if (index < 0)
            sources.Insert(0, replacement);
        else
            sources[index] = replacement;
    }

    public const string SettingsVariable = "CONTROLPLANE_SETTINGS";

    /// <summary>Where the host listens when neither ASPNETCORE_URLS, <c>--urls</c> nor a <c>Urls</c> setting says.</summary>
    public const string DefaultUrl = "http://localhost:8080";

    /// <summary>The body of a host's Main: builds, says where it serves, runs; a bad configuration exits with code 2.</summary>
    public static async Task<int> RunAsync(string[] args, IReadOnlyList<IEngineBackend>? backends = null)
    {
        try
        {
            // appsettings.json beside the binary: the embedded default, wherever the process is started from.
            var app = Build(args, contentRoot: AppContext.BaseDirectory, backends: backends);
            app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine(Banner(app.Urls.FirstOrDefault() ?? DefaultUrl)));
            await app.RunAsync();
            return 0;
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return 2;
        }
    }

    private static string Banner(string url) => $$"""

        ControlPlane is serving on {{url}}
          models:     curl {{url}}/v1/models
          streaming:  curl -N {{url}}/v1/chat/completions -H 'Content-Type: application/json' \
                        -d '{"model":"llama-3-8b-sim","stream":true,"max_tokens":32,"messages":[{"role":"user","content":"Hello"}]}'
          metrics:    curl {{url}}/metrics
        Press Ctrl+C to stop.
        """;

    private static void MapControlEndpoints(WebApplication app)
    {
        var completions = app.Services.GetRequiredService<CompletionEndpoint>();
        app.MapPost("/v1/completions", context => completions.HandleAsync(context, CompletionKind.Completion));
        app.MapPost("/v1/chat/completions", context => completions.HandleAsync(context, CompletionKind.Chat));
        app.MapGet("/v1/models", ModelsEndpoint.List);
        app.MapGet("/v1/models/{id}", ModelsEndpoint.Get);
        app.MapGet("/v1/requests/{id}", RequestStatusEndpoint.Get);
        app.MapGet("/healthz", HealthEndpoints.Healthz);
        app.MapGet("/readyz", HealthEndpoints.Readyz);
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapPost("/admin/models/{model}/drain", AdminEndpoints.DrainModel);
        app.MapPost("/admin/models/{model}/resume", AdminEndpoints.ResumeModel);
        app.MapPost("/admin/pods/{pod}/drain", AdminEndpoints.DrainPod);
        app.MapPost("/admin/pods/{pod}/resume", AdminEndpoints.ResumePod);
        app.MapGet("/admin/models/{model}/instances", AdminEndpoints.Instances);
        app.MapPost("/admin/models/{model}/migrations", AdminEndpoints.Migrate);
        app.MapPost("/admin/models/{model}/roles", AdminEndpoints.SetRole);
        app.MapGet("/admin/models/{model}/autoscale", AdminEndpoints.Autoscale);
        app.MapGet("/status", StatusPage.Html);
        app.MapGet("/status.json", StatusPage.Json);
        app.MapGet("/admin/power", PowerEndpoints.List);
        app.MapGet("/admin/power/domains", PowerEndpoints.Applied);
        app.MapPut("/admin/power/domains", PowerEndpoints.Apply);
    }
}
