using ControlPlane.Testing;
namespace ControlPlane.Server.Tests.Hosting;

/// <summary>One gateway shared by the tests of a collection.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    private GatewayHost? _host;

    public GatewayHost Host => _host ?? throw new InvalidOperationException("the gateway is not started");

    public async Task InitializeAsync() => _host = await GatewayHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null)
            await _host.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "gateway";
}
