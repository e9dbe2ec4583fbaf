using ControlPlane.Requests;
using ControlPlane.Server.Gateway;

namespace ControlPlane.Server.Tests.Gateway;

public class StallCheckTests
{
    private const string Instance = "pod-0/m/0";

    [Fact]
    public void HeldAndNothingSentBeyondTheStream_IsWaiting_WhateverWasSuspectedBefore()
    {
        var queued = new RequestLocation { Held = true, SentChunks = 0 };
        var decoding = new RequestLocation { Held = true, SentChunks = 12 };

        Assert.Equal(StallVerdict.Waiting, StallCheck.Judge(queued, Instance, 0, null));
        Assert.Equal(StallVerdict.Waiting, StallCheck.Judge(decoding, Instance, 12, new StallSuspicion(Instance, 12)));
    }

    [Fact]
    public void MovedFromItsInstance_IsFollowed()
    {
        Assert.Equal(StallVerdict.Moved, StallCheck.Judge(new RequestLocation { MovedTo = "pod-1/m/0" }, Instance, 5, new StallSuspicion(Instance, 5)));
    }

    [Theory]
    [InlineData(false, 0)] // its instance no longer runs it
    [InlineData(true, 9)]  // its instance sent chunks up to 9 that the stream (at 7) never took in
    public void SeeminglyLost_IsSuspectOnce_ThenLost(bool held, int sent)
    {
        var where = new RequestLocation { Held = held, SentChunks = sent };

        Assert.Equal(StallVerdict.Suspect, StallCheck.Judge(where, Instance, 7, null));
        Assert.Equal(StallVerdict.Lost, StallCheck.Judge(where, Instance, 7, new StallSuspicion(Instance, 7)));
    }

    [Fact]
    public void NoAnswer_IsSuspectOnce_ThenLost()
    {
        Assert.Equal(StallVerdict.Suspect, StallCheck.Judge(null, Instance, 3, null));
        Assert.Equal(StallVerdict.Lost, StallCheck.Judge(null, Instance, 3, new StallSuspicion(Instance, 3)));
    }

    [Fact]
    public void SuspicionOfAnotherInstanceOrAnEarlierPoint_StartsOver()
    {
        var gone = RequestLocation.Unknown;

        // Resumed elsewhere since, or the stream moved on since: the earlier look says nothing of now.
        Assert.Equal(StallVerdict.Suspect, StallCheck.Judge(gone, Instance, 7, new StallSuspicion("pod-1/m/0", 7)));
        Assert.Equal(StallVerdict.Suspect, StallCheck.Judge(gone, Instance, 8, new StallSuspicion(Instance, 7)));
    }
}
