using System.Net;
using ControlPlane.Grains.Requests;
using ControlPlane.Server.Configuration;
using Orleans.Configuration;

namespace ControlPlane.Server.Hosting;

/// <summary>Configures the Orleans silo for the cluster mode the configuration names.</summary>
public static class SiloConfiguration
{
    public static void Configure(ISiloBuilder silo, ClusterConfig cluster)
    {
        var mode = Enum.Parse<ClusterMode>(cluster.Mode, ignoreCase: true);
        if (mode == ClusterMode.Embedded)
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
            silo.AddMemoryGrainStorage(RequestGrain.StorageName);
            return;
        }

        var redis = StackExchange.Redis.ConfigurationOptions.Parse(cluster.Redis!);
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = cluster.ServiceId;
        });
        silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: true);
        silo.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
        silo.AddRedisGrainStorage(RequestGrain.StorageName, o => o.ConfigurationOptions = redis.Clone());
    }
}
