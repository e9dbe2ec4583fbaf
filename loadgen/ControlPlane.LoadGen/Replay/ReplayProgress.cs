namespace ControlPlane.LoadGen.Replay;

/// <summary>A replay's counts at a moment, for progress displays.</summary>
public readonly record struct ReplayProgress(int Total, int Sent, int Finished, int Failed, double ElapsedSeconds);
