namespace ControlPlane.Engine.Core;

/// <summary>The layout and element type of a backend's KV block bytes, and how many bytes one block takes.</summary>
public sealed record KvDataLayout(string Layout, string DType, long BytesPerBlock);
