using ControlPlane.Grains;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Gateway;
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
        configure?.Invoke(builder.Configuration);
        var config = ControlPlaneConfigLoader.Load(builder.Configuration);

        builder.Services.AddSingleton(config);
        builder.UseOrleans(silo => SiloConfiguration.Configure(silo, config.Cluster));
        // After the silo: hosted services start in order, and engines register with grains once it runs.
        builder.Services.AddControlPlaneGrains(config.Dispatch, (sp, host) => EngineFactory.AddConfiguredEngines(sp, host, config, all), config.Power);
        builder.Services.AddHostedService<PowerDomainStarter>();
        builder.Services.AddSingleton<ModelFolders>();
        builder.Services.AddSingleton(sp => new ModelCatalog(config.Models.Select(m => EngineFactory.Describe(m, sp.GetRequiredService<ModelFolders>()))));
        builder.Services.AddSingleton<TokenRouter>();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddSingleton<RequestExecutor>();
        builder.Services.AddSingleton<CompletionEndpoint>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(GatewayMetrics.MeterName)
            .AddView(instrument => instrument.Unit == "s" && instrument.Meter.Name == GatewayMetrics.MeterName
                ? new ExplicitBucketHistogramConfiguration { Boundaries = GatewayMetrics.LatencyBuckets }
                : null)
            .AddPrometheusExporter());

        var app = builder.Build();
        app.Lifetime.ApplicationStarted.Register(() => app.Services.GetRequiredService<TokenRouter>().Attach(app.Services.GetRequiredService<IGrainFactory>()));
        MapEndpoints(app);
        return app;
    }

    /// <summary>The body of a host's Main: builds, says where it serves, runs; a bad configuration exits with code 2.</summary>
    public static async Task<int> RunAsync(string[] args, IReadOnlyList<IEngineBackend>? backends = null)
    {
        try
        {
            // appsettings.json beside the binary: the embedded default, wherever the process is started from.
            var app = Build(args, contentRoot: AppContext.BaseDirectory, backends: backends);
            app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine(Banner(app.Urls.FirstOrDefault() ?? "http://localhost:8080")));
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

    private static void MapEndpoints(WebApplication app)
    {
        var completions = app.Services.GetRequiredService<CompletionEndpoint>();
        app.MapPost("/v1/completions", context => completions.HandleAsync(context, CompletionKind.Completion));
        app.MapPost("/v1/chat/completions", context => completions.HandleAsync(context, CompletionKind.Chat));
        app.MapGet("/v1/models", ModelsEndpoint.List);
        app.MapGet("/v1/models/{id}", ModelsEndpoint.Get);
        app.MapGet("/healthz", HealthEndpoints.Healthz);
        app.MapGet("/readyz", HealthEndpoints.Readyz);
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapPost("/admin/models/{model}/drain", AdminEndpoints.DrainModel);
        app.MapGet("/admin/power", PowerEndpoints.List);
    }
}
