using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;

namespace ControlPlane.Operator.Tests;

public sealed class LeaderElectionTests : ApiServerTest
{

    private LeaderElector Elector(string identity) => new(new LeaderElectionConfig(new LeaseLock(Client, "serving", "controlplane-operator", identity))
    {
        LeaseDuration = TimeSpan.FromSeconds(2),
        RenewDeadline = TimeSpan.FromSeconds(1.5),
        RetryPeriod = TimeSpan.FromMilliseconds(200),
    });

    [Fact]
    public async Task TwoReplicas_OneLeads_AndTheOtherTakesOverWhenItStops()
    {
        using var a = Elector("operator-a");
        using var b = Elector("operator-b");
        using var stopA = new CancellationTokenSource();
        using var stopB = new CancellationTokenSource();
        var runA = a.RunAndTryToHoldLeadershipForeverAsync(stopA.Token);
        for (var i = 0; i < 50 && !a.IsLeader(); i++)
            await Task.Delay(100);
        Assert.True(a.IsLeader(), "the first replica should take the free lease");
        var runB = b.RunAndTryToHoldLeadershipForeverAsync(stopB.Token);
        await Task.Delay(600);
        Assert.False(b.IsLeader(), "a held lease keeps the second replica waiting");
        Assert.Equal("operator-a", Api.Get("coordination.k8s.io", "leases", "serving", "controlplane-operator")!["spec"]!["holderIdentity"]!.GetValue<string>());

        await stopA.CancelAsync();
        for (var i = 0; i < 60 && !b.IsLeader(); i++)
            await Task.Delay(100);
        Assert.True(b.IsLeader(), "the second replica should take over once the lease expires");
        await stopB.CancelAsync();
        await Task.WhenAll(runA.ContinueWith(_ => { }, TaskScheduler.Default), runB.ContinueWith(_ => { }, TaskScheduler.Default));
    }
}
